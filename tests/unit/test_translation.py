"""Translation's text logic, routes and backends' plumbing.

What a translation says is asserted with the real models (tests/integration/test_translation.py);
here the CTranslate2 backend runs a scripted model built from numpy (every sentence comes out as
the same words), which shows the plumbing and the failure paths, never a translation's quality.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from captions.checks import cue_problems
from captions.markup import notation
from captions.rules import CaptionRules, rules_for_language
from captions.translation import (
    Sentence,
    glossary_terms,
    layout_translation,
    protect_terms,
    restore_terms,
    sentence_spans,
    sentences_of,
    timed_words,
    words_of_cues,
)
from connectors.translators import (
    TranslatorError,
    TranslatorPool,
    covers,
    language_code,
    parse_translator,
    same_language,
)
from connectors.translators.ctranslate2_models import CTranslate2Spec
from connectors.translators.firefox import FirefoxSpec
from connectors.translators.routes import (
    known_targets,
    needs_whisper_english,
    refuse_reason,
    route_for,
)
from devtools.scripted_translator import build_scripted_translator
from library.track_meta import TrackMeta, read_track_meta
from library.translations import TranslationRequest, lay_out, translate_requests
from schemas.events import TrackRef, TrackSource, UploadRequest
from schemas.languages import native_name
from schemas.transcript import Word

FIREFOX = FirefoxSpec()


def words(*timed: tuple[str, float, float]) -> list[Word]:
    return [Word(text, start, end) for text, start, end in timed]


# ---- sentences ----------------------------------------------------------------------------


def test_sentences_end_at_punctuation_not_at_abbreviations_or_numbers() -> None:
    said = words(
        ("Dr.", 0.0, 0.3),
        ("Smith", 0.3, 0.6),
        ("arrived.", 0.6, 1.0),
        ("It", 1.2, 1.3),
        ("costs", 1.3, 1.6),
        ("approx.", 1.6, 2.0),
        ("ten", 2.0, 2.2),
        ("euros!", 2.2, 2.6),
        ("Why?", 2.8, 3.0),
    )
    assert [s.text for s in sentences_of(said)] == [
        "Dr. Smith arrived.",
        "It costs approx. ten euros!",
        "Why?",
    ]
    first = sentences_of(said)[0]
    assert (first.start, first.end) == (0.0, 1.0)


def test_a_long_pause_ends_a_sentence_and_a_run_on_is_cut_at_a_clause() -> None:
    said = words(("so", 0.0, 0.2), ("then", 0.2, 0.4), ("later", 2.5, 2.8))
    assert [s.text for s in sentences_of(said)] == ["so then", "later"]
    run_on = [Word(f"w{k}," if k == 30 else f"w{k}", k * 0.2, k * 0.2 + 0.1) for k in range(60)]
    cut = sentences_of(run_on)
    assert cut[0].text.endswith("w30,") and len(cut) == 2


def test_words_of_stored_cues_keep_each_cue_span() -> None:
    from captions.cues import Cue

    cues = [Cue(1.0, 3.0, ("Hello there,", "friend."), ()), Cue(4.0, 5.0, ("Bye.",), ())]
    out = words_of_cues(cues, "en")
    assert [w.text for w in out] == ["Hello", "there,", "friend.", "Bye."]
    assert out[0].start == 1.0 and out[2].end == pytest.approx(3.0)
    assert out[3].start == 4.0
    assert [s.text for s in sentences_of(out)] == ["Hello there, friend.", "Bye."]


def test_unspaced_languages_are_timed_by_character() -> None:
    out = timed_words("今日は 雨です", "ja", 0.0, 1.0)
    assert "".join(w.text for w in out) == "今日は雨です"
    assert [w.space_before for w in out][3] is True


# ---- layout inside the source spans -------------------------------------------------------


def test_each_translation_is_laid_out_inside_its_sentence_under_the_targets_rules() -> None:
    sentences = [
        Sentence(0.0, 2.0, "Welcome."),
        Sentence(2.5, 9.0, "Heavy rain is expected across the north tomorrow, so take care."),
    ]
    translations = [
        "Bem-vindo.",
        "A chuva pesada é esperada em todo o norte amanhã, então tome cuidado com as estradas.",
    ]
    rules = rules_for_language("pt-BR", CaptionRules())
    cues = layout_translation(sentences, translations, rules, "pt-BR", 12.0)
    assert cues[0].text == "Bem-vindo." and cues[0].start == 0.0 and cues[0].end <= 2.5
    later = cues[1:]
    assert len(later) >= 2  # cut at clause or phrase boundaries
    assert all(2.5 <= c.start < c.end <= 9.0 + 1.5 for c in later)
    assert " ".join(" ".join(c.lines) for c in later) == translations[1]
    for k, cue in enumerate(cues):
        following = cues[k + 1].start if k + 1 < len(cues) else None
        problems = cue_problems(cue.start, cue.end, notation(cue.cue_text), following, rules)
        assert not [p for p in problems if "line" in p.text], problems


def test_a_long_translation_borrows_silence_after_then_before_never_a_neighbours_time() -> None:
    rules = CaptionRules()
    sentences = [Sentence(1.0, 2.0, "Yes."), Sentence(5.0, 5.5, "No."), Sentence(5.6, 6.0, "Ok.")]
    long = "Sim, com certeza, sem dúvida nenhuma, claro que sim."
    spans = sentence_spans(sentences, [long, "Não.", "Está bem."], rules, 10.0)
    (s0, e0, _), (_, e1, _), (s2, _, _) = spans
    assert e0 > 2.0 and e0 <= 3.5  # after the sentence, at most 1.5 s
    assert s0 < 1.0 and s0 >= 0.5  # then a lead-in of at most 0.5 s
    assert e1 <= 5.6 - rules.min_gap_s + 1e-9  # never into the next sentence
    assert s2 >= e1 + rules.min_gap_s - 1e-9


def test_sentence_and_translation_counts_must_agree() -> None:
    with pytest.raises(ValueError, match="1 sentences but 2 translations"):
        sentence_spans([Sentence(0, 1, "a")], ["a", "b"], CaptionRules())


# ---- glossary -----------------------------------------------------------------------------


def test_glossary_terms_are_protected_and_restored_as_written() -> None:
    terms = glossary_terms("ComfyUI, Kubernetes;  x")
    assert terms == ("Kubernetes", "ComfyUI")
    masked, found = protect_terms("Open the comfyui folder on kubernetes.", terms)
    assert masked == "Open the ZXQ2 folder on ZXQ1." and found == ("Kubernetes", "ComfyUI")
    assert (
        restore_terms("Abra a pasta ZXQ2 no ZXQ1.", found) == "Abra a pasta ComfyUI no Kubernetes."
    )
    assert restore_terms("Abra a pasta no ZXQ1.", found) is None  # one lost: translate again
    assert glossary_terms("Acme Whisperbox") == ("Whisperbox", "Acme")
    assert glossary_terms(None) == ()


# ---- routes and names ---------------------------------------------------------------------


def test_routes_prefer_whispers_english_then_a_direct_pair_then_english_as_a_pivot() -> None:
    specs = [FIREFOX]
    assert route_for("en", "pt-BR", specs).translator == "firefox"  # type: ignore[union-attr]
    assert route_for("pt", "en", specs).translator == "firefox"  # type: ignore[union-attr]
    whisper = route_for("pt", "en", specs, whisper_english=True)
    assert whisper is not None and whisper.legs == () and whisper.translator == "whisper"
    pivot = route_for("fr", "pt-BR", specs, whisper_english=True)
    assert pivot is not None and pivot.translator == "whisper+firefox" and pivot.pivot == "en"
    assert route_for("fr", "pt-BR", specs) is None  # no speech, no French reader
    opus = parse_translator("ctranslate2:Helsinki-NLP/opus-mt-fr-en")
    text_pivot = route_for("fr", "pt-BR", [FIREFOX, opus])
    assert (
        text_pivot is not None
        and text_pivot.translator == "ctranslate2:Helsinki-NLP/opus-mt-fr-en+firefox"
    )
    assert needs_whisper_english("fr", ["pt-BR"], specs)
    assert not needs_whisper_english("fr", ["pt-BR"], [FIREFOX, opus])
    assert needs_whisper_english(None, ["en"], specs) and not needs_whisper_english(
        None, ["pt-BR"], specs
    )


def test_targets_are_listed_by_native_name_and_others_refused_naming_them() -> None:
    assert known_targets([FIREFOX]) == [("en", "English"), ("pt-BR", "Português (Brasil)")]
    reason = refuse_reason(["pt-BR", "ja"], [FIREFOX])
    assert reason is not None and "makes ja" in reason and "en, pt-BR" in reason
    assert refuse_reason(["pt", "en-GB"], [FIREFOX]) is None
    m2m = parse_translator("ctranslate2:facebook/m2m100_418M")
    assert refuse_reason(["ja", "fr", "zh-Hans"], [m2m]) is None
    assert (
        native_name("zh-Hans") == "中文\uff08简体\uff09" and native_name("de-AT") == "Deutsch (AT)"
    )


def test_language_codes_and_variants() -> None:
    assert language_code("pt-br") == "pt-BR"
    with pytest.raises(ValueError, match="not a language code"):
        language_code("Portuguese!")
    assert same_language("pt", "pt-BR") and not same_language("pt-PT", "pt-BR")
    assert covers("pt", "pt-BR") and covers("pt-BR", "pt-BR") and not covers("pt-PT", "pt-BR")


def test_translator_names_are_parsed_with_their_family_and_pair() -> None:
    opus = parse_translator("ctranslate2:Helsinki-NLP/opus-mt-en-de")
    assert (
        isinstance(opus, CTranslate2Spec) and opus.family == "marian" and opus.pair == ("en", "de")
    )
    assert opus.makes("en", "de") and not opus.makes("de", "en")
    nllb = parse_translator("ctranslate2:/models/nllb?device=cuda&beam_size=2")
    assert isinstance(nllb, CTranslate2Spec) and nllb.family == "nllb" and nllb.device == "cuda"
    assert nllb.label == "ctranslate2:nllb" and nllb.makes("en", "zh-Hant")
    for bad, message in (
        ("deepl", "unknown translator"),
        ("ctranslate2:/models/mine", "family"),
        ("ctranslate2:/models/opus-mt-x?family=marian", "pair"),
        ("ctranslate2:m2m100?colour=red", "unknown: colour"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_translator(bad)


# ---- what a track says it was made from ---------------------------------------------------


def test_a_translations_source_travels_in_its_note_and_its_manifest_entry() -> None:
    source = TrackSource("en", 2, "whisper+firefox", "en")
    meta = TrackMeta(3, True, "subtitles", "2026-12-07T00:00:00Z", source)
    assert read_track_meta(f"WEBVTT\n\n{meta.note()}\n") == meta
    ref = TrackRef("pt-BR", "subtitles", "vtt", "file:///x", source=source)
    assert TrackRef.from_dict(ref.to_dict()) == ref
    assert ref.to_dict()["source"] == {
        "language": "en", "revision": 2, "translator": "whisper+firefox", "via": "en"
    }  # fmt: skip


# ---- the CTranslate2 backend on a scripted model ------------------------------------------


@pytest.fixture(scope="module")
def scripted_m2m100(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("m2m100-scripted")
    build_scripted_translator(str(folder), ["olá", "mundo."], source_words=["hello", "world"])
    return folder


def test_ctranslate2_translates_batches_with_the_familys_target_tag(scripted_m2m100: Path) -> None:
    spec = parse_translator(f"ctranslate2:{scripted_m2m100}?family=m2m100")
    assert spec.makes("en", "pt-BR") and spec.makes("ja", "fr")
    translator = TranslatorPool([spec]).get(spec)
    out = translator.translate(["hello world.", "words it never saw", ""], "en", "pt-BR")
    assert out == ["olá mundo.", "olá mundo.", ""]
    with pytest.raises(TranslatorError, match="unsupported_pair"):
        translator.translate(["x"], "en", "tlh")


def test_a_marian_model_makes_its_one_pair(tmp_path: Path) -> None:
    build_scripted_translator(str(tmp_path), ["hallo", "welt."], family="marian")
    spec = parse_translator(f"ctranslate2:{tmp_path}?family=marian&pair=en-de")
    translator = TranslatorPool([spec]).get(spec)
    assert translator.translate(["hello"], "en", "de") == ["hallo welt."]


def test_the_pipeline_service_batches_and_lays_out_through_ctranslate2(
    scripted_m2m100: Path,
) -> None:
    spec = parse_translator(f"ctranslate2:{scripted_m2m100}?family=m2m100")
    pool = TranslatorPool([spec])
    route = route_for("en", "fr", [spec])
    assert route is not None
    one = TranslationRequest("fr", route, (Sentence(0, 2, "hello."), Sentence(3, 5, "world.")))
    two = TranslationRequest("fr", route, (Sentence(0, 1, "again."),))
    done = translate_requests([one, two], pool)
    assert [d.texts for d in done] == [("olá mundo.", "olá mundo."), ("olá mundo.",)]
    cues = lay_out(done[0], CaptionRules(), 6.0)
    assert [(c.start, c.text) for c in cues] == [(0, "olá mundo."), (3, "olá mundo.")]


def test_a_missing_model_fails_the_requests_it_serves_only_and_is_not_looked_for_again(
    tmp_path: Path,
) -> None:
    missing = parse_translator(f"ctranslate2:{tmp_path / 'gone'}?family=m2m100")
    pool = TranslatorPool([FIREFOX, missing])
    fr = route_for("en", "fr", pool.specs)
    assert fr is not None
    request = TranslationRequest("fr", fr, (Sentence(0, 1, "Hello."),))
    done = translate_requests([request], pool)
    assert done[0].error is not None and done[0].error.code == "model_unavailable"
    assert "not a model folder" in done[0].error.message
    with pytest.raises(TranslatorError, match="model_unavailable"):
        pool.get(missing)  # remembered


def test_a_translator_that_answers_the_wrong_number_of_lines_fails_its_track() -> None:
    class Short:
        label = "short"

        def makes(self, source: str, target: str) -> bool:
            return True

        def targets(self) -> frozenset[str]:
            return frozenset({"fr"})

        def load(self) -> Short:
            return self

        def translate(self, texts: list[str], source: str, target: str) -> list[str]:
            return texts[:-1]

    spec = Short()
    pool = TranslatorPool([spec])
    route = route_for("en", "fr", [spec])
    assert route is not None
    request = TranslationRequest("fr", route, (Sentence(0, 1, "a."), Sentence(1, 2, "b.")))
    (done,) = translate_requests([request], pool)
    assert done.error is not None and done.error.code == "translation_failed"
    assert "1 translations for 2 sentences" in done.error.message


def test_an_event_asking_for_a_target_no_translator_makes_is_refused_as_invalid(
    tmp_path: Path,
) -> None:
    from transforms.decode import SUMMARY, DecodeAndChunk
    from transforms.settings import CaptionOptions

    request = UploadRequest("v1", f"file://{tmp_path}/v1.mp4", translate_to=("ja",))
    (out,) = list(DecodeAndChunk(CaptionOptions(str(tmp_path))).process(request))
    assert out.tag == SUMMARY
    _, summary = out.value
    assert summary.failure is not None and summary.failure.code == "invalid_event"
    assert "no configured translator makes ja; these can be made: en, pt-BR" in (
        summary.failure.message
    )
