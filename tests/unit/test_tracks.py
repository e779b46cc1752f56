"""Track formats: WebVTT and SubRip text exactly as players expect, transcript JSON, and the
format registry that every format is one entry of."""

from __future__ import annotations

import io
import json
import math
import xml.etree.ElementTree as ET

import webvtt
from hypothesis import given, settings
from hypothesis import strategies as st

from captions.cues import CaptionRules, Cue, layout_cues
from captions.formats import WRITERS, write_srt, write_transcript_json, write_ttml, write_vtt
from captions.formats.srt import srt_timestamp
from captions.formats.vtt import vtt_timestamp
from captions.rules import rules_for_language
from connectors.storage.layout import content_type_for
from schemas.formats import CAPTION_FORMATS, FORMAT_NAMES, TRACK_FORMATS
from schemas.transcript import Segment, Transcript, Word, join_words
from tests.caption_rules import check_vtt_text, shown_texts
from tests.ttml_reader import assert_ttml_matches_vtt
from tests.unit.test_cues import PROPERTY, caption_rules, spoken, spoken_words

TWO_CUES = [
    Cue(1.5, 3.25, ("Hello there,", "how are you?"), ()),
    Cue(3.3333, 5.0, ("Fine.",), ()),
]


def read_vtt(text: str) -> webvtt.WebVTT:
    return webvtt.from_buffer(io.StringIO(text))


def test_vtt_is_exactly_signature_language_note_then_blocks() -> None:
    assert write_vtt(TWO_CUES, "en") == (
        "WEBVTT\n"
        "\n"
        "NOTE language=en\n"
        "\n"
        "00:00:01.500 --> 00:00:03.250\n"
        "Hello there,\n"
        "how are you?\n"
        "\n"
        "00:00:03.333 --> 00:00:05.000\n"
        "Fine.\n"
    )


def test_vtt_without_language_has_no_language_note() -> None:
    assert write_vtt(TWO_CUES).startswith("WEBVTT\n\n00:00:01.500")
    assert write_vtt([]) == "WEBVTT\n"


def test_webvtt_reads_back_texts_times_and_language() -> None:
    track = read_vtt(write_vtt(TWO_CUES, "de"))
    assert track.metadata == []  # no header metadata: the W3C recommendation has none
    assert "NOTE language=de" in write_vtt(TWO_CUES, "de")
    assert [c.text for c in track.captions] == ["Hello there,\nhow are you?", "Fine."]
    assert [
        (c.start_time.in_milliseconds(), c.end_time.in_milliseconds()) for c in track.captions
    ] == [
        (1500, 3250),
        (3333, 5000),
    ]


def test_vtt_escapes_ampersand_and_angle_brackets() -> None:
    cues = [Cue(0.0, 1.0, ("R&D <b>bold</b> -->",), ())]
    text = write_vtt(cues)
    assert "R&amp;D &lt;b&gt;bold&lt;/b&gt; --&gt;" in text
    (caption,) = read_vtt(text).captions
    assert caption.raw_text == "R&amp;D &lt;b&gt;bold&lt;/b&gt; --&gt;"


def test_srt_numbers_cues_from_one_with_comma_milliseconds() -> None:
    assert write_srt(TWO_CUES) == (
        "1\n"
        "00:00:01,500 --> 00:00:03,250\n"
        "Hello there,\n"
        "how are you?\n"
        "\n"
        "2\n"
        "00:00:03,333 --> 00:00:05,000\n"
        "Fine.\n"
        "\n"
    )


def test_hours_have_at_least_two_digits_and_may_exceed_99() -> None:
    assert vtt_timestamp(0) == "00:00:00.000"
    assert vtt_timestamp(3 * 3600 + 25 * 60 + 7.089) == "03:25:07.089"
    assert srt_timestamp(123 * 3600 + 59.9999) == "123:00:59,999"


def test_timestamps_are_cut_to_the_millisecond_never_rounded_up() -> None:
    assert vtt_timestamp(1.0009) == "00:00:01.000"
    assert vtt_timestamp(1.001) == "00:00:01.001"  # 1.001 is stored as 1.00099999...
    assert vtt_timestamp(59.9999) == "00:00:59.999"
    assert vtt_timestamp(-0.2) == "00:00:00.000"


def test_cues_without_text_and_blank_lines_are_not_written() -> None:
    cues = [Cue(0.0, 1.0, ("", "  "), ()), Cue(2.0, 3.0, ("one", "", "two"), ())]
    assert write_srt(cues) == "1\n00:00:02,000 --> 00:00:03,000\none\ntwo\n\n"


def test_transcript_json_is_utf8_and_keeps_missing_times_as_null() -> None:
    words = (Word("Grüße", 0.0, 0.4), Word("2014.", math.nan, math.nan))
    transcript = Transcript("v1", "de", 1.0, (Segment(0.0, 1.0, "Grüße 2014.", words, "de"),))
    text = write_transcript_json(transcript)
    assert "Grüße" in text
    data = json.loads(text)
    assert data["segments"][0]["words"][1]["start"] is None
    assert data["video_id"] == "v1"


def test_every_format_of_the_registry_has_a_writer_and_a_content_type() -> None:
    transcript = Transcript("v1", "en", 5.0)
    assert FORMAT_NAMES == ("vtt", "srt", "ttml", "json")
    assert tuple(WRITERS) == CAPTION_FORMATS  # one writer a caption format, in its order
    assert {f.name: content_type_for(f"x.{f.name}") for f in TRACK_FORMATS} == {
        "vtt": "text/vtt; charset=utf-8",
        "srt": "application/x-subrip; charset=utf-8",
        "ttml": "application/ttml+xml; charset=utf-8",
        "json": "application/json",
    }
    assert WRITERS["vtt"](TWO_CUES, "en").startswith("WEBVTT\n\nNOTE language=en\n")
    assert WRITERS["srt"](TWO_CUES, "en").startswith("1\n00:00:01,500")
    assert WRITERS["ttml"](TWO_CUES, "en").startswith("<?xml")
    assert json.loads(write_transcript_json(transcript))["language"] == "en"


# --- the written track, read back, still keeps every caption rule ------------------------------


@PROPERTY
@given(spoken_words(), caption_rules)
def test_written_vtt_keeps_the_caption_rules(words: list[Word], rules: CaptionRules) -> None:
    cues = layout_cues(words, rules)
    text = write_vtt(cues, "en")
    assert check_vtt_text(text, shown_texts(words), rules) == []
    track = read_vtt(text)
    assert [c.start_time.in_milliseconds() for c in track.captions] == [
        math.floor(cue.start * 1000 + 1e-6) for cue in cues
    ]


@settings(max_examples=60, deadline=None)
@given(spoken_words(), st.sampled_from(["en", "ar", "ja", "pt-BR"]))
def test_ttml_reads_back_in_ttconv_as_the_webvtt_of_the_same_cues(
    words: list[Word], language: str
) -> None:
    cues = layout_cues(words, rules_for_language(language, CaptionRules()))
    assert_ttml_matches_vtt(write_ttml(cues, language), write_vtt(cues, language), language)


def test_ttml_is_an_imsc_1_1_text_profile_document_in_its_language() -> None:
    ttml = write_ttml(TWO_CUES, "pt-BR")
    root = ET.fromstring(ttml)
    assert root.tag == "{http://www.w3.org/ns/ttml}tt"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "pt-BR"
    profile = root.get("{http://www.w3.org/ns/ttml#parameter}contentProfiles")
    assert profile == "http://www.w3.org/ns/ttml/profile/imsc1.1/text"
    track = assert_ttml_matches_vtt(ttml, write_vtt(TWO_CUES, "pt-BR"), "pt-BR")
    assert track.cues[0].lines == ["Hello there,", "how are you?"]  # the line break survives


def test_ttml_of_a_right_to_left_language_says_so() -> None:
    cues = [Cue(0.0, 1.0, ("2024 كان عاماً جيداً",), ())]
    track = assert_ttml_matches_vtt(write_ttml(cues, "ar"), write_vtt(cues, "ar"), "ar")
    assert track.cues[0].direction == "rtl"
    assert "\u200f" not in write_ttml(cues, "ar")  # the direction is TTML's, not a mark


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["R&D", "<tag>", "a-->b", "&amp;", "ok"]), min_size=1, max_size=20))
def test_escaped_words_read_back_as_written(texts: list[str]) -> None:
    words = spoken(" ".join(texts))
    cues = layout_cues(words)
    assert check_vtt_text(write_vtt(cues), texts, CaptionRules()) == []
    assert_ttml_matches_vtt(write_ttml(cues, "en"), write_vtt(cues, "en"), "en")


def test_vtt_checker_reports_each_broken_rule() -> None:
    too_long = "x " * 30
    text = (
        "WEBVTT\n\n"
        f"00:00:00.000 --> 00:00:00.500\n{too_long}\n\n"  # short, wide line
        "00:00:00.400 --> 00:00:08.000\none\ntwo\nthree\n\n"  # overlaps, too long, three lines
        "00:00:08.010 --> 00:00:09.000\nfour\n"  # gap under two frames
    )
    problems = check_vtt_text(text, ["x"] * 30 + ["one", "two", "3", "four"], CaptionRules())
    joined = "\n".join(problems)
    for expected in (
        "lasts 0.500",
        "line of width 59",  # the trailing space is no text
        "overlaps",
        "lasts 7.600",
        "3 lines",
        "gap of",
    ):
        assert expected in joined
    assert "words differ" in joined
    assert check_vtt_text("not a track", None) == ["not WebVTT: Invalid format"]


def test_right_to_left_lines_start_with_a_right_to_left_mark() -> None:
    cues = [Cue(0.0, 1.0, ("2024 كان عاماً جيداً",), ())]
    vtt = write_vtt(cues, "ar")
    assert "\n\u200f2024 كان عاماً جيداً\n" in vtt
    assert "\u200f" in write_srt(cues, "ar") and "\u200f" not in write_vtt(cues, "en")


def test_transcript_json_keeps_where_the_model_wrote_no_space() -> None:
    words = (
        Word("je", 0.0, 0.2),
        Word("m", 0.2, 0.3),
        Word("'appelle", 0.3, 0.6, space_before=False),
    )
    assert join_words(words) == "je m'appelle"
    data = json.loads(
        write_transcript_json(Transcript("v", "fr", 1.0, (Segment(0, 1, "", words),)))
    )
    assert [w.get("space_before", True) for w in data["segments"][0]["words"]] == [
        True,
        True,
        False,
    ]
    back = Transcript.from_dict(data)
    assert back.segments[0].words == words
