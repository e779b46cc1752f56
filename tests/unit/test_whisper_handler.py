"""The RunInference handler on real faster-whisper / CTranslate2 with offline-built models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from connectors.media import decode_pcm, probe
from tests.fixtures.media import clip_path
from tests.fixtures.whisper_model import DEFAULT_SCRIPT, cached_whisper_model
from transforms.chunks import ChunkAudio, speech_chunks
from transforms.transcript import compression_ratio, guard_segments
from transforms.whisper import Chunk, WhisperModelHandler, WhisperSettings, load_whisper


@pytest.fixture(scope="module")
def speech() -> ChunkAudio:
    path = clip_path("speech_a")
    (chunk,) = speech_chunks(decode_pcm(path, probe(path)))
    return chunk


def _settings(kind: str, **kwargs: object) -> WhisperSettings:
    return WhisperSettings(
        model=str(cached_whisper_model(kind)),
        device="cpu",
        compute_type="int8",
        **kwargs,  # type: ignore[arg-type]
    )


def _words(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [w.text for s in result.segments for w in s.words]


def test_one_batch_mixes_videos_languages_and_tasks(speech: ChunkAudio) -> None:
    handler = WhisperModelHandler(_settings("micro"))
    model = handler.load_model()
    batch = [
        Chunk("a", 0, "transcribe", None, speech),
        Chunk("b", 3, "translate", "de", speech),
        Chunk("c", 1, "transcribe", "fr", speech),
    ]
    results = list(handler.run_inference(batch, model))
    assert [(r.job, r.index, r.task) for r in results] == [
        ("a", 0, "transcribe"),
        ("b", 3, "translate"),
        ("c", 1, "transcribe"),
    ]
    assert [r.language for r in results] == ["en", "de", "fr"]  # detected, given, given
    for result in results:
        assert _words(result) == list(DEFAULT_SCRIPT)
        assert result.no_speech_prob < 0.01


def test_word_times_lie_inside_the_chunks_speech_spans(speech: ChunkAudio) -> None:
    handler = WhisperModelHandler(_settings("micro"))
    (result,) = handler.run_inference(
        [Chunk("a", 0, "transcribe", "en", speech)], handler.load_model()
    )
    starts = [w.start for s in result.segments for w in s.words]
    assert starts == sorted(starts)
    for word in (w for s in result.segments for w in s.words):
        assert any(a / 16000 <= word.start <= word.end <= b / 16000 for a, b in speech.spans)


def test_english_only_model_ignores_translate(speech: ChunkAudio) -> None:
    handler = WhisperModelHandler(_settings("micro-en"))
    (result,) = handler.run_inference(
        [Chunk("a", 0, "translate", None, speech)], handler.load_model()
    )
    assert result.language == "en"
    assert _words(result) == list(DEFAULT_SCRIPT)


def test_a_babbling_model_is_capped_and_its_loops_are_dropped(speech: ChunkAudio) -> None:
    handler = WhisperModelHandler(_settings("micro-random", max_new_tokens=40))
    (result,) = handler.run_inference(
        [Chunk("a", 0, "transcribe", "en", speech)], handler.load_model()
    )
    text = " ".join(s.text for s in result.segments)
    assert text  # it babbled until the cap: a repetition loop...
    assert compression_ratio(text) > 2.4
    assert guard_segments(result) == []  # ...that no caption keeps


def test_the_model_is_loaded_once_per_process() -> None:
    settings = _settings("micro")
    assert load_whisper(settings) is load_whisper(settings)
    assert WhisperModelHandler(settings).load_model() is load_whisper(settings)


def test_batch_size_comes_from_the_settings() -> None:
    handler = WhisperModelHandler(_settings("micro", batch_size=3))
    assert handler.batch_elements_kwargs() == {"min_batch_size": 3, "max_batch_size": 3}


def test_silence_chunk_decodes_without_error(tmp_path: Path) -> None:
    quiet = ChunkAudio(np.zeros(16000, np.int16), ((0, 16000),))
    handler = WhisperModelHandler(_settings("micro"))
    (result,) = handler.run_inference(
        [Chunk("q", 0, "transcribe", None, quiet)], handler.load_model()
    )
    assert result.speech_s == 1.0
