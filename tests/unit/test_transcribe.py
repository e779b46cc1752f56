"""`TranscribeChunks`, the Beam step: batches across videos, spread over the model's workers,
and a chunk that fails fails alone. Scripted models: these tests are about batching, not words.
"""

from __future__ import annotations

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.util import assert_that, equal_to

from connectors.media import decode_pcm, probe
from devtools.media import clip_path
from devtools.scripted_whisper import DEFAULT_SCRIPT, cached_whisper_model
from transforms.chunks import ChunkAudio, speech_chunks
from transforms.domain import Chunk, ChunkFailed
from transforms.settings import WhisperSettings
from transforms.transcribe import FAILED, TranscribeChunks
from transforms.whisper import SileroVad, load_whisper, transcribe_chunks


@pytest.fixture(scope="module")
def speech() -> ChunkAudio:
    path = clip_path("speech_a")
    (chunk,) = speech_chunks(decode_pcm(path, probe(path)), SileroVad())
    return chunk


def _settings(**kwargs: object) -> WhisperSettings:
    return WhisperSettings(
        model=str(cached_whisper_model("micro")),
        device="cpu",
        compute_type="int8",
        **kwargs,  # type: ignore[arg-type]
    )


def _words(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [w.text for s in result.segments for w in s.words]


def test_the_beam_stage_batches_chunks_and_reports_failed_ones(speech: ChunkAudio) -> None:
    good = [Chunk(f"v{i % 3}", i, "transcribe", "en", speech) for i in range(7)]
    broken = Chunk("bad", 0, "transcribe", "en", ChunkAudio(np.zeros((2, 2), np.int16), ()))
    settings = _settings(batch_size=4, inference_workers=2, cpu_threads=1)
    with beam.Pipeline(runner=FnApiRunner()) as p:
        out = (
            p
            | beam.Create([*good, broken])
            | beam.ParDo(TranscribeChunks(settings)).with_outputs(FAILED, main="transcripts")
        )
        assert_that(
            out.transcripts | beam.MapTuple(lambda job, t: (job, t.index, _words(t))),
            equal_to([(c.job, c.index, list(DEFAULT_SCRIPT)) for c in good]),
            label="transcripts",
        )
        assert_that(
            out[FAILED] | beam.MapTuple(lambda job, f: (job, type(f).__name__, f.index)),
            equal_to([("bad", ChunkFailed.__name__, 0)]),
            label="failed",
        )


def test_a_batch_split_over_workers_gives_the_same_transcripts(speech: ChunkAudio) -> None:
    shorter = ChunkAudio(speech.audio[: len(speech.audio) // 2], ((0, len(speech.audio) // 2),))
    batch = [
        Chunk(f"v{i}", i, "transcribe", ("en", None, "de")[i % 3], (speech, shorter)[i % 2])
        for i in range(5)
    ]
    one = _settings(inference_workers=1, cpu_threads=1, batch_size=5)
    two = _settings(inference_workers=2, cpu_threads=1, batch_size=2)
    assert load_whisper(one).model.num_workers == 1
    assert load_whisper(two).model.num_workers == 2
    alone = transcribe_chunks(load_whisper(one), batch, one)
    assert [(r.job, r.index) for r in alone] == [(c.job, c.index) for c in batch]
    with beam.Pipeline(runner=FnApiRunner()) as p:
        split = (
            p
            | beam.Create(batch)
            | beam.ParDo(TranscribeChunks(two)).with_outputs(FAILED, main="transcripts")
        )
        assert_that(split.transcripts, equal_to([(r.job, r) for r in alone]))
