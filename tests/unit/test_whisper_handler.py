"""Batched inference on real faster-whisper / CTranslate2 with offline-built models."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.util import assert_that, equal_to

from connectors.media import decode_pcm, probe
from schemas.transcript import join_words
from tests.fixtures.media import DATA_DIR, clip_path
from tests.fixtures.whisper_model import DEFAULT_SCRIPT, cached_whisper_model
from transforms.chunks import ChunkAudio, speech_chunks
from transforms.transcript import compression_ratio, guard_segments
from transforms.whisper import (
    FAILED,
    Chunk,
    ChunkFailed,
    ChunkTranscript,
    TranscribeChunks,
    WhisperSettings,
    batch_size,
    batches_of,
    inference_layout,
    load_whisper,
    transcribe_batch,
    usable_cores,
)


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


def _run(settings: WhisperSettings, batch: list[Chunk]) -> list[ChunkTranscript]:
    return transcribe_batch(load_whisper(settings), batch, settings)


def _words(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [w.text for s in result.segments for w in s.words]


def test_one_batch_mixes_videos_languages_and_tasks(speech: ChunkAudio) -> None:
    batch = [
        Chunk("a", 0, "transcribe", None, speech),
        Chunk("b", 3, "translate", "de", speech),
        Chunk("c", 1, "transcribe", "fr", speech),
    ]
    results = _run(_settings("micro"), batch)
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
    (result,) = _run(_settings("micro"), [Chunk("a", 0, "transcribe", "en", speech)])
    starts = [w.start for s in result.segments for w in s.words]
    assert starts == sorted(starts)
    for word in (w for s in result.segments for w in s.words):
        assert any(a / 16000 <= word.start <= word.end <= b / 16000 for a, b in speech.spans)


def test_english_only_model_ignores_translate(speech: ChunkAudio) -> None:
    (result,) = _run(_settings("micro-en"), [Chunk("a", 0, "translate", None, speech)])
    assert result.language == "en"
    assert _words(result) == list(DEFAULT_SCRIPT)


def test_a_babbling_model_is_capped_and_its_loops_are_dropped(speech: ChunkAudio) -> None:
    settings = _settings("micro-random", max_new_tokens=40)
    (result,) = _run(settings, [Chunk("a", 0, "transcribe", "en", speech)])
    text = " ".join(s.text for s in result.segments)
    assert text  # it babbled until the cap: a repetition loop...
    assert compression_ratio(text) > 2.4
    assert guard_segments(result) == []  # ...that no caption keeps


def test_the_model_is_loaded_once_per_process() -> None:
    settings = _settings("micro")
    assert load_whisper(settings) is load_whisper(settings)
    assert load_whisper(settings) is load_whisper(_settings("micro", beam_size=2))


def test_silence_chunk_decodes_without_error(tmp_path: Path) -> None:
    quiet = ChunkAudio(np.zeros(16000, np.int16), ((0, 16000),))
    (result,) = _run(_settings("micro"), [Chunk("q", 0, "transcribe", None, quiet)])
    assert result.speech_s == 1.0


def test_a_batch_split_over_workers_gives_the_same_transcripts_in_order(
    speech: ChunkAudio,
) -> None:
    shorter = ChunkAudio(speech.audio[: len(speech.audio) // 2], ((0, len(speech.audio) // 2),))
    batch = [
        Chunk(f"v{i}", i, "transcribe", ("en", None, "de")[i % 3], (speech, shorter)[i % 2])
        for i in range(5)
    ]
    one = _settings("micro", inference_workers=1, cpu_threads=1, batch_size=5)
    two = _settings("micro", inference_workers=2, cpu_threads=1, batch_size=2)
    assert load_whisper(one).model.num_workers == 1
    assert load_whisper(two).model.num_workers == 2
    alone = _run(one, batch)
    split = _run(two, batch)
    assert [(r.job, r.index) for r in split] == [(c.job, c.index) for c in batch]
    assert split == alone


def test_batches_keep_order_and_sizes() -> None:
    audio = ChunkAudio(np.zeros(1, np.int16), ())
    chunks = [Chunk(str(i), i, "transcribe", "en", audio) for i in range(7)]
    assert [len(b) for b in batches_of(chunks, 3)] == [3, 3, 1]
    assert [c for b in batches_of(chunks, 3) for c in b] == chunks
    assert batches_of(chunks, 10) == [chunks]
    assert batches_of([], 2) == []


def test_batch_size_is_small_on_a_cpu_unless_set() -> None:
    assert batch_size(_settings("micro")) == 2
    assert batch_size(_settings("micro", batch_size=5)) == 5


def test_cpu_layout_gives_each_core_a_single_threaded_worker() -> None:
    cores = usable_cores()
    workers, threads = inference_layout(_settings("micro"))
    assert (workers, threads) == (min(cores, 4), max(1, cores // min(cores, 4)))
    assert inference_layout(_settings("micro", inference_workers=1)) == (1, cores)
    assert inference_layout(_settings("micro", cpu_threads=cores)) == (1, cores)
    assert inference_layout(_settings("micro", inference_workers=3, cpu_threads=2)) == (3, 2)


def test_the_beam_stage_batches_chunks_and_reports_failed_ones(speech: ChunkAudio) -> None:
    good = [Chunk(f"v{i % 3}", i, "transcribe", "en", speech) for i in range(7)]
    broken = Chunk("bad", 0, "transcribe", "en", ChunkAudio(np.zeros((2, 2), np.int16), ()))
    settings = _settings("micro", batch_size=4, inference_workers=2, cpu_threads=1)
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


def test_one_batch_of_real_speech_mixes_videos_languages_tasks_and_vocabularies(
    real_model: Path,
) -> None:
    def first_chunk(name: str) -> ChunkAudio:
        path = DATA_DIR / "realspeech" / name
        return next(iter(speech_chunks(decode_pcm(path, probe(path)))))

    jfk, french, japanese = (
        first_chunk(n) for n in ("jfk.flac", "ej-fra.m4a", "common_voice_ja_24511055.mp3")
    )
    batch = [
        Chunk("a", 0, "transcribe", None, jfk),
        Chunk("b", 0, "transcribe", None, french),
        Chunk("c", 0, "transcribe", "ja", japanese),
        Chunk("b", 0, "translate", "fr", french),
        Chunk("d", 0, "transcribe", None, jfk, hotwords="Americans"),  # a longer prompt
    ]
    settings = WhisperSettings(model=str(real_model), device="cpu", batch_size=len(batch))
    a, b, c, b_en, d = _run(settings, batch)
    jfk_text = "And so my fellow Americans, ask not what your country can do for you"
    assert (a.language, b.language, c.language) == ("en", "fr", "ja")
    assert " ".join(_words(a)).startswith(jfk_text) and _words(d) == _words(a)
    assert "m'appelle" in _text(b) and "キャンプの外れ" in _text(c)
    english = _text(b_en)
    assert "my name is" in english.lower(), english
    # An English translation is split into words at its spaces, not by the source language:
    # a word glued to the one before it starts with a mark ("long" + "-awaited"), never a letter.
    for segment in b_en.segments:
        assert join_words(segment.words) == segment.text
        glued = [w.text for w in segment.words[1:] if not w.space_before]
        assert all(not t[0].isalnum() for t in glued), glued


def _text(result: ChunkTranscript) -> str:
    return " ".join(s.text for s in result.segments)
