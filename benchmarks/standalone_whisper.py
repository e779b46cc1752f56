"""faster-whisper on its own, as a whole process: the baseline of the throughput benchmark.

    .venv/bin/python -m benchmarks.standalone_whisper MODE MODEL MEDIA [MEDIA ...]

MODE is `transcribe` (no VAD), `transcribe-vad` (`vad_filter=True`) or `batched`
(`BatchedInferencePipeline`, batch 8). Decoding as autocaption's: int8, language en, beam 5,
word timestamps, one temperature (0.0, no fallback), and no conditioning on previous text in the
sequential modes. One model serves every file, one file after the other (faster-whisper batches
within a file, never across files). Prints what it heard, as JSON: the text of each file, and
segments, words and the last segment's end over all of them.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from typing import Any

from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.transcribe import Segment

MODES = ("transcribe", "transcribe-vad", "batched")
DECODING: dict[str, Any] = {
    "language": "en",
    "beam_size": 5,
    "word_timestamps": True,
    "temperature": 0.0,
}
COMPUTE_TYPE = "int8"  # what faster-whisper users pick on a CPU, and our default there


def transcribe(mode: str, media: str, model: WhisperModel) -> Iterable[Segment]:
    """The segments of `media` in `mode` (a lazy iterable: consuming it does the work)."""
    if mode == "batched":
        segments, _ = BatchedInferencePipeline(model).transcribe(media, batch_size=8, **DECODING)
    else:
        segments, _ = model.transcribe(
            media,
            vad_filter=mode == "transcribe-vad",
            condition_on_previous_text=False,
            **DECODING,
        )
    return segments


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("model")
    parser.add_argument("media", nargs="+")
    args = parser.parse_args()
    model = WhisperModel(args.model, device="cpu", compute_type=COMPUTE_TYPE)
    texts, segments, words, last_end = [], 0, 0, 0.0
    for media in args.media:
        heard = list(transcribe(args.mode, media, model))
        texts.append(" ".join(s.text.strip() for s in heard))
        segments += len(heard)
        words += sum(len(s.words or []) for s in heard)
        last_end = heard[-1].end if heard else last_end
    print(
        json.dumps({"texts": texts, "segments": segments, "words": words, "last_end_s": last_end})
    )


if __name__ == "__main__":
    main()
