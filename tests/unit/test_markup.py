"""A person's cue markup (italics, bold, underline, voices, languages, classes, ruby) survives
reading, every format that can carry it, and the editor's notation; nothing else is markup."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from captions.formats import write_srt, write_ttml, write_vtt
from captions.markup import notation, parse_cue_text, srt_text, visible_lines, vtt_text
from captions.reading import read_caption_file
from tests.ttml_reader import assert_ttml_matches_vtt
from tests.webvtt_validator import assert_w3c_valid

PERSONS = (
    "WEBVTT\n\n"
    "00:00:01.000 --> 00:00:04.000\n"
    "<i>Italic words</i> and <b>bold</b>\n\n"
    "00:00:05.000 --> 00:00:08.000\n"
    "<v Roger Bingham>We are in New York City\n\n"
    "00:00:09.000 --> 00:00:12.000\n"
    "<u>under</u> <c.loud>shout</c> <lang fr>bonjour</lang> R&amp;D &lt;3\n"
    "<ruby>漢<rt>かん</rt>字<rt>じ</rt></ruby>\n"
)


def cue_texts(vtt: str) -> list[str]:
    return [notation(c.cue_text) for c in read_caption_file(vtt.encode())]


def test_webvtt_cue_spans_survive_a_read_and_a_write() -> None:
    cues = read_caption_file(PERSONS.encode())
    assert [c.lines for c in cues] == [
        ("Italic words and bold",),
        ("We are in New York City",),
        ("under shout bonjour R&D <3", "漢字"),
    ]
    written = write_vtt(cues, "en")
    assert "<i>Italic words</i> and <b>bold</b>" in written
    assert "<v Roger Bingham>We are in New York City</v>" in written
    assert "<u>under</u> <c.loud>shout</c> <lang fr>bonjour</lang> R&amp;D &lt;3" in written
    assert "<ruby>漢<rt>かん</rt>字<rt>じ</rt></ruby>" in written
    assert read_caption_file(written.encode()) == cues
    assert_w3c_valid(written)


def test_subrip_keeps_italics_bold_and_underline_and_the_text_of_the_rest() -> None:
    srt = write_srt(read_caption_file(PERSONS.encode()))
    assert "<i>Italic words</i> and <b>bold</b>" in srt
    assert "\nWe are in New York City\n" in srt  # a voice has no place in SubRip
    assert "<u>under</u> shout bonjour R&D <3\n漢(かん)字(じ)" in srt
    back = read_caption_file(srt.encode())
    assert notation(back[0].cue_text) == "<i>Italic words</i> and <b>bold</b>"


def test_ttml_carries_styles_voices_languages_and_ruby() -> None:
    cues = read_caption_file(PERSONS.encode())
    ttml = write_ttml(cues, "en")
    track = assert_ttml_matches_vtt(ttml, write_vtt(cues, "en"), "en")
    first, voiced, third = track.cues
    assert first.styled == {"italic": {"Italic words"}, "bold": {"bold"}}
    assert third.styled["underline"] == {"under"} and "fr" in third.languages
    assert third.lines == ["under shout bonjour R&D <3", "漢字"]  # ruby text above its base
    root = ET.fromstring(ttml)
    ttm = "{http://www.w3.org/ns/ttml#metadata}"
    (agent,) = root.iter(f"{ttm}agent")
    assert agent.findtext(f"{ttm}name") == "Roger Bingham"
    spans = [
        e
        for e in root.iter()
        if e.get(f"{ttm}agent") == agent.get("{http://www.w3.org/XML/1998/namespace}id")
    ]
    assert "".join(s.text or "" for s in spans) == "We are in New York City"
    assert voiced.lines == ["We are in New York City"]


@pytest.mark.parametrize(
    ("payload", "visible", "shown"),
    [
        ("<b.loud.x>hey</b>", ("hey",), "<b.loud.x>hey</b>"),
        ("<foo>dropped tag</foo> kept", ("dropped tag kept",), "dropped tag kept"),
        ("<00:00:01.500>karaoke <00:00:02.000>done", ("karaoke done",), "karaoke done"),
        ("<i>never closed", ("never closed",), "<i>never closed</i>"),
        ("</b>stray end", ("stray end",), "stray end"),
        ("&lt;script&gt;x&lt;/script&gt; &amp;amp;", ("<script>x</script> &amp;",),
         "<script>x</script> &amp;"),
        ("<rt>no ruby</rt>", ("no ruby",), "no ruby"),
        ("<i>a\n</i>b", ("a", "b"), "<i>a\n</i>b"),
        ("  spaced   <i> out </i>  ", ("spaced out",), "spaced <i>out</i>"),
        ("<v\tAnna  Lee>hi", ("hi",), "<v Anna Lee>hi</v>"),
        ("<img src=x onerror=alert(1)>text", ("text",), "text"),
    ],
)  # fmt: skip
def test_cue_text_is_read_by_the_webvtt_parsing_rules(
    payload: str, visible: tuple[str, ...], shown: str
) -> None:
    text = parse_cue_text(payload)
    assert visible_lines(text) == visible
    assert notation(text) == shown
    assert parse_cue_text(vtt_text(text)) == text  # what we write reads back the same
    assert_w3c_valid(f"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n{vtt_text(text)}\n")


def test_the_editors_notation_shows_tags_and_text_as_a_person_types_them() -> None:
    assert cue_texts(PERSONS) == [
        "<i>Italic words</i> and <b>bold</b>",
        "<v Roger Bingham>We are in New York City</v>",
        "<u>under</u> <c.loud>shout</c> <lang fr>bonjour</lang> R&D <3\n"
        "<ruby>漢<rt>かん</rt>字<rt>じ</rt></ruby>",
    ]


def test_a_right_to_left_line_starts_with_its_mark_once() -> None:
    text = parse_cue_text("<i>שלום</i> עולם\nשורה")  # noqa: RUF001
    once = vtt_text(text, "\u200f")
    assert once == "\u200f<i>שלום</i> עולם\n\u200fשורה"  # noqa: RUF001
    assert vtt_text(parse_cue_text(once), "\u200f") == once  # read back: no second mark
    assert srt_text(text, "\u200f").startswith("\u200f<i>")
