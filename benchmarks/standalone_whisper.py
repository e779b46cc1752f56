"""faster-whisper on its own, as a whole process: the baseline of the throughput benchmark.

    .venv/bin/python -m benchmarks.standalone_whisper MODE MEDIA MODEL

MODE is `transcribe` (no VAD), `transcribe-vad` (`vad_filter=True`) or `batched`
(`BatchedInferencePipeline`, batch 8). Decoding as autocaption's: language en, beam 5, word
timestamps, one temperature (0.0, no fallback), and no conditioning on previous text in the
sequential modes. Prints the segments and words produced, as JSON.
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


def transcribe(mode: str, media: str, model_path: str) -> Iterable[Segment]:
    """The segments of `media` in `mode` (a lazy iterable: consuming it does the work)."""
    model = WhisperModel(model_path)
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
    parser.add_argument("media")
    parser.add_argument("model")
    args = parser.parse_args()
    segments = list(transcribe(args.mode, args.media, args.model))
    words = sum(len(s.words or []) for s in segments)
    last_end = segments[-1].end if segments else 0.0
    print(json.dumps({"segments": len(segments), "words": words, "last_end_s": last_end}))


if __name__ == "__main__":
    main()
