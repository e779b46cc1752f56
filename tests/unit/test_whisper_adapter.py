"""The faster-whisper adapter: batched inference on real faster-whisper and CTranslate2, with the
real Whisper base weights where words and languages are asserted and scripted models elsewhere;
and the faster-whisper internals it relies on, pinned, so an upgrade that changes one fails here.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens, merge_punctuations
from faster_whisper.vad import get_vad_model

from connectors.media import decode_pcm, probe
from devtools.media import clip_path
from devtools.scripted_whisper import DEFAULT_SCRIPT, cached_whisper_model
from schemas.transcript import join_words
from tests.paths import REALSPEECH
from transforms.chunks import ChunkAudio, speech_chunks
from transforms.domain import Chunk, ChunkTranscript
from transforms.settings import WhisperSettings
from transforms.transcript import compression_ratio, guard_segments
from transforms.whisper import (
    LANGUAGE_CODES,
    SILERO_STATE,
    SileroVad,
    batch_size,
    inference_layout,
    load_whisper,
    transcribe_chunks,
    usable_cores,
)


@pytest.fixture(scope="module")
def speech() -> ChunkAudio:
    path = clip_path("speech_a")
    (chunk,) = speech_chunks(decode_pcm(path, probe(path)), SileroVad())
    return chunk


def _settings(kind: str, **kwargs: object) -> WhisperSettings:
    return WhisperSettings(
        model=str(cached_whisper_model(kind)),
        device="cpu",
        compute_type="int8",
        **kwargs,  # type: ignore[arg-type]
    )


def _run(settings: WhisperSettings, batch: list[Chunk]) -> list[ChunkTranscript]:
    return transcribe_chunks(load_whisper(settings), batch, settings)


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


def test_one_batch_of_real_speech_mixes_videos_languages_tasks_and_vocabularies(
    real_model: Path,
) -> None:
    def first_chunk(name: str) -> ChunkAudio:
        path = REALSPEECH / name
        return next(iter(speech_chunks(decode_pcm(path, probe(path)), SileroVad())))

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


# --- the faster-whisper and CTranslate2 internals the adapter relies on ----------------------


def test_the_faster_whisper_signatures_the_adapter_calls_are_unchanged() -> None:
    def params(function: object) -> list[str]:
        return list(inspect.signature(function).parameters)  # type: ignore[arg-type]

    assert params(WhisperModel.get_prompt)[:6] == [
        "self", "tokenizer", "previous_tokens", "without_timestamps", "prefix", "hotwords"
    ]  # fmt: skip
    assert params(WhisperModel.find_alignment)[:5] == [
        "self", "tokenizer", "text_tokens", "encoder_output", "num_frames"
    ]  # fmt: skip
    assert params(get_suppressed_tokens) == ["tokenizer", "suppress_tokens"]
    assert params(merge_punctuations) == ["alignment", "prepended", "appended"]
    assert params(Tokenizer.split_to_word_tokens) == ["self", "tokens"]
    assert {"en", "de", "fr", "ja", "zh", "yue"} <= LANGUAGE_CODES


def test_the_shapes_the_adapter_reads_from_the_model_are_unchanged(speech: ChunkAudio) -> None:
    model = load_whisper(_settings("micro"))
    tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language="en")
    assert tokenizer.language_code == "en"  # the adapter re-points it for translations
    features = model.feature_extractor(speech.audio.astype(np.float32) / 32768.0)[..., :-1]
    encoded = model.encode(np.stack([pad_or_trim(features)]))
    (result,) = model.model.generate(
        encoded,
        [model.get_prompt(tokenizer, [], without_timestamps=True)],
        max_length=40,
        return_scores=True,
        return_no_speech_prob=True,
    )
    assert isinstance(result.sequences_ids[0], list) and isinstance(result.scores[0], float)
    assert 0.0 <= result.no_speech_prob <= 1.0
    ((token, probability), *_), *_ = model.model.detect_language(encoded)
    assert token.startswith("<|") and token.endswith("|>") and 0 <= probability <= 1
    text = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
    (alignment,) = model.find_alignment(tokenizer, [text], encoded, [100])
    assert alignment and set(alignment[0]) == {"word", "tokens", "start", "end", "probability"}


def test_the_silero_session_takes_the_inputs_and_state_the_adapter_gives() -> None:
    session = get_vad_model().session
    assert [i.name for i in session.get_inputs()] == ["input", "h", "c"]
    vad = SileroVad()
    probabilities = vad(np.zeros((3, 512), np.float32))
    assert probabilities.shape == (3,) and vad._h.shape == SILERO_STATE
