"""Caption files people bring, read strictly: WebVTT or SubRip by content, every problem named
by its line, text as a viewer reads it, times checked against the media."""

from __future__ import annotations

import pytest

from captions.formats import write_srt, write_vtt
from captions.reading import CaptionFileError, read_caption_file
from library.track_meta import TrackMeta

VTT = """WEBVTT
Language: en

NOTE written by hand

1
00:00:01.000 --> 00:00:02.500 align:start line:90%
R&amp;D &lt;script&gt; <i>is</i> here
<v Anna>second line</v>

00:01:03.250 --> 00:01:05.000
café
"""

SRT = (
    "1\r\n00:00:01,000 --> 00:00:02,500\r\n<b>Hello</b> there\r\n\r\n"
    "2\r\n00:00:03,000 --> 00:00:04,000\r\nbye\r\n"
)


def test_webvtt_is_read_with_text_as_viewers_read_it() -> None:
    cues = read_caption_file(VTT.encode())
    assert [(c.start, c.end) for c in cues] == [(1.0, 2.5), (63.25, 65.0)]
    assert cues[0].lines == ("R&D <script> is here", "second line")
    assert cues[1].lines == ("café",)


def test_subrip_is_told_apart_by_its_content() -> None:
    cues = read_caption_file(SRT.encode())
    assert [(c.start, c.end, c.lines) for c in cues] == [
        (1.0, 2.5, ("Hello there",)),
        (3.0, 4.0, ("bye",)),
    ]


def test_our_own_tracks_read_back_to_the_same_cues() -> None:
    cues = read_caption_file(VTT.encode())
    meta = TrackMeta(3, False, "captions", "2026-12-02T10:00:00Z")
    assert read_caption_file(write_vtt(cues, "en", [meta.note()]).encode()) == cues
    # SubRip keeps the text and its italics, bold and underline; a voice has no place in it.
    from_srt = read_caption_file(write_srt(cues).encode())
    assert [(c.start, c.end, c.lines) for c in from_srt] == [
        (c.start, c.end, c.lines) for c in cues
    ]


def test_a_byte_order_mark_is_fine() -> None:
    assert len(read_caption_file(b"\xef\xbb\xbf" + VTT.encode())) == 2


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("hello\nworld\n", 1, "neither WebVTT"),
        ("WEBVTT\n\n00:00:01,000 --> 00:00:02.000\nx\n", 3, "bad cue times"),
        ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nx\n\nno times here\n", 6, "without cue times"),
        ("WEBVTT\n\n00:00:03.000 --> 00:00:02.000\nx\n", 3, "ends before it starts"),
        (
            "WEBVTT\n\n00:00:03.000 --> 00:00:04.000\nx\n\n00:00:01.000 --> 00:00:02.000\ny\n",
            6,
            "starts before the one before it",
        ),
        ("WEBVTT\n00:00:01.000 --> 00:00:02.000\nx\n", 2, "header must end"),
        ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nx --> y\n", 4, "must not contain -->"),
        ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nx\n\nSTYLE\n::cue {}\n", 6, "STYLE block"),
        ("1\n00:00:01,000 --> 00:00:02,000\nx\n\nsome words\n", 5, "cue number"),
        ("1\n00:00:01,000 -> 00:00:02,000\nx\n", 2, "bad cue times"),
        ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nok\n\n00:00:03.000 --> 00:00:61.000\n", 6, ""),
    ],
)
def test_every_problem_names_its_line(text: str, line: int, says: str) -> None:
    with pytest.raises(CaptionFileError) as info:
        read_caption_file(text.encode())
    assert info.value.line == line, str(info.value)
    assert says in info.value.problem
    assert str(info.value).startswith(f"line {line}: ")


def test_text_that_is_not_utf8_names_its_line() -> None:
    with pytest.raises(CaptionFileError) as info:
        read_caption_file(b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\ncaf\xe9\n")
    assert info.value.line == 4 and "UTF-8" in info.value.problem


def test_cues_may_end_at_most_a_second_after_the_media() -> None:
    late = "WEBVTT\n\n00:00:01.000 --> 00:00:10.900\nx\n\n00:00:11.000 --> 00:00:11.500\ny\n"
    with pytest.raises(CaptionFileError) as info:
        read_caption_file(late.encode(), media_end=10.0)
    assert info.value.line == 6 and "after the end of the media" in info.value.problem
    assert len(read_caption_file(late.encode(), media_end=10.6)) == 2
