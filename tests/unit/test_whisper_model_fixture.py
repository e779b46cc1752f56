"""The offline Whisper model fixture, run through real faster-whisper and CTranslate2."""

from __future__ import annotations

import json
from pathlib import Path

import ctranslate2
import numpy as np
import pytest
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.audio import pad_or_trim
from tokenizers import Tokenizer

from devtools.scripted_whisper import (
    DEFAULT_SCRIPT,
    build_whisper_model,
    cached_whisper_model,
    main,
)

SAMPLE_RATE = 16000
AUDIO_SECONDS = 5.0
DECODE = {"beam_size": 5, "temperature": 0.0, "condition_on_previous_text": False}


@pytest.fixture(scope="module")
def audio() -> np.ndarray:
    # The scripted decoder ignores the audio, so a quiet tone is enough.
    t = np.arange(int(AUDIO_SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.1 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)


@pytest.fixture(scope="module")
def scripted() -> WhisperModel:
    return WhisperModel(str(cached_whisper_model("micro")), device="cpu", compute_type="int8")


def test_scripted_model_transcribes_exactly_the_script_words(
    scripted: WhisperModel, audio: np.ndarray
) -> None:
    segments, info = scripted.transcribe(audio, language="en", word_timestamps=True, **DECODE)
    segments = list(segments)

    words = [w for s in segments for w in s.words or []]
    assert [w.word.strip() for w in words] == list(DEFAULT_SCRIPT)
    assert "".join(s.text for s in segments).strip() == " ".join(DEFAULT_SCRIPT)
    assert all(0.0 <= w.start <= w.end <= AUDIO_SECONDS for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)
    assert info.language == "en"


def test_scripted_model_has_low_no_speech_probability_and_certain_decoding(
    scripted: WhisperModel, audio: np.ndarray
) -> None:
    segments = list(scripted.transcribe(audio, language="en", **DECODE)[0])

    assert segments
    assert all(s.no_speech_prob < 1e-6 for s in segments)
    assert all(s.avg_logprob > -1e-3 for s in segments)


def test_batched_pipeline_transcribes_the_script(scripted: WhisperModel, audio: np.ndarray) -> None:
    pipeline = BatchedInferencePipeline(scripted)
    # No VAD: a tone is not speech, and VAD would drop the whole clip.
    segments, _ = pipeline.transcribe(
        audio, language="en", word_timestamps=True, batch_size=4, vad_filter=False
    )

    words = [w.word.strip() for s in segments for w in s.words or []]
    assert words == list(DEFAULT_SCRIPT)


def test_language_detection_returns_the_chosen_language(audio: np.ndarray) -> None:
    model = WhisperModel(str(cached_whisper_model("micro-de")), device="cpu", compute_type="int8")

    language, probability, all_probs = model.detect_language(audio)
    _, info = model.transcribe(audio, **DECODE)

    assert (language, info.language) == ("de", "de")
    assert probability > 0.99
    assert len(all_probs) == 99
    assert model.model.is_multilingual


def test_translate_task_decodes_the_script(scripted: WhisperModel, audio: np.ndarray) -> None:
    segments, _ = scripted.transcribe(audio, language="fr", task="translate", **DECODE)

    assert " ".join(s.text.strip() for s in segments) == " ".join(DEFAULT_SCRIPT)


def test_english_only_model_is_not_multilingual_and_transcribes(audio: np.ndarray) -> None:
    path = cached_whisper_model("micro-en")
    model = WhisperModel(str(path), device="cpu", compute_type="int8")

    segments, _ = model.transcribe(audio, **DECODE)

    assert not model.model.is_multilingual
    assert " ".join(s.text.strip() for s in segments) == " ".join(DEFAULT_SCRIPT)


def test_custom_script_is_decoded_in_order(tmp_path: Path, audio: np.ndarray) -> None:
    script = ["Grüße", "aus", "Köln,", "bis", "bald!"]
    path = build_whisper_model(tmp_path, script=script, detected_language="de")
    model = WhisperModel(str(path), device="cpu", compute_type="int8")

    segments, info = model.transcribe(audio, word_timestamps=True, **DECODE)

    assert [w.word.strip() for s in segments for w in s.words or []] == script
    assert info.language == "de"


def test_random_model_babbles_until_the_token_cap(audio: np.ndarray) -> None:
    path = cached_whisper_model("micro-random")
    model = WhisperModel(str(path), device="cpu", compute_type="int8")

    segments, _ = model.transcribe(audio, language="en", max_new_tokens=16, **DECODE)

    assert "".join(s.text for s in segments).strip()


def test_random_model_never_ends_by_itself(audio: np.ndarray) -> None:
    model = WhisperModel(
        str(cached_whisper_model("micro-random")), device="cpu", compute_type="int8"
    )
    features = ctranslate2.StorageView.from_array(
        pad_or_trim(model.feature_extractor(audio))[np.newaxis]
    )
    prompt = [model.hf_tokenizer.token_to_id(t) for t in ("<|startoftranscript|>", "<|en|>")]
    prompt += [model.hf_tokenizer.token_to_id("<|transcribe|>")]

    lengths = [
        len(model.model.generate(features, [prompt], max_length=cap)[0].sequences_ids[0])
        for cap in (12, 48)
    ]

    # Only the cap stops it: a larger cap gives a longer babble.
    assert 0 < lengths[0] < lengths[1]


@pytest.mark.parametrize(("endless", "longest"), [(False, 40), (True, 200)])
def test_other_beams_end_soon_unless_endless(
    tmp_path: Path, audio: np.ndarray, endless: bool, longest: int
) -> None:
    path = build_whisper_model(tmp_path / "m", endless=endless)
    model = WhisperModel(str(path), device="cpu", compute_type="int8")
    features = ctranslate2.StorageView.from_array(
        pad_or_trim(model.feature_extractor(audio))[np.newaxis]
    )
    prompt = [
        model.hf_tokenizer.token_to_id(t)
        for t in ("<|startoftranscript|>", "<|en|>", "<|transcribe|>")
    ]
    (result,) = model.model.generate(features, [prompt], beam_size=5, num_hypotheses=5)
    best, *others = result.sequences_ids
    assert model.hf_tokenizer.decode(best).split() == list(DEFAULT_SCRIPT)
    # Like a trained model's, the other hypotheses end soon; endless ones run to the limit.
    if endless:
        assert max(map(len, others)) >= longest
    else:
        assert max(map(len, others)) <= longest


def test_tokenizer_has_whisper_ids_and_one_token_per_script_word() -> None:
    path = cached_whisper_model("micro")
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    vocabulary = json.loads((path / "vocabulary.json").read_text(encoding="utf-8"))

    assert tokenizer.get_vocab_size() == len(vocabulary) == 51865
    assert tokenizer.token_to_id("<|endoftext|>") == 50257
    # Languages follow faster-whisper's _LANGUAGE_CODES order, not Whisper's own token order.
    assert 50259 <= tokenizer.token_to_id("<|en|>") < 50358
    assert tokenizer.token_to_id("<|translate|>") == 50358
    assert tokenizer.token_to_id("<|transcribe|>") == 50359
    assert tokenizer.token_to_id("<|nocaptions|>") == 50362
    assert tokenizer.token_to_id("<|0.00|>") == 50364
    assert "" in vocabulary
    ids = tokenizer.encode(" " + " ".join(DEFAULT_SCRIPT), add_special_tokens=False).ids
    assert len(ids) == len(DEFAULT_SCRIPT)
    assert len(tokenizer.encode(" -", add_special_tokens=False).ids) == 1


def test_repeated_script_words_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="distinct"):
        build_whisper_model(tmp_path, script=["again", "and", "again"])


def test_script_words_whisper_suppresses_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="suppressed"):
        build_whisper_model(tmp_path, script=["well", "-", "yes"])


def test_tiny_dims_build_a_multilingual_whisper_tiny_shape(tmp_path: Path) -> None:
    path = build_whisper_model(tmp_path, dims="tiny")

    model = ctranslate2.models.Whisper(str(path), device="cpu", compute_type="int8")

    assert model.is_multilingual
    assert model.num_languages == 99
    assert model.n_mels == 80


def test_command_line_prints_the_model_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main([str(tmp_path), "--script", "Hello there.", "--language", "es"])

    assert capsys.readouterr().out.strip() == str(tmp_path)
    assert (tmp_path / "model.bin").is_file()
    assert (tmp_path / "tokenizer.json").is_file()
