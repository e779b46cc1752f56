"""Aligning a supplied transcript: its reading, the plan against the words heard, the settling
of times, a caption file's own cues re-timed, and what a revision made so says of itself.
(What the model makes of real speech: tests/integration/test_alignment.py.)"""

from __future__ import annotations

import itertools

import pytest

from captions.cues import Cue
from captions.rules import CaptionRules
from captions.scripts import (
    ScriptError,
    WrittenWord,
    match_key,
    script_cues,
    script_text,
    written_words,
)
from library.track_meta import TrackMeta, read_track_meta
from schemas.errors import CaptionError
from schemas.events import UploadRequest, parse_upload_event
from schemas.transcript import Word
from transforms.align import retimed_cues, trim_to_speech, window_audio
from transforms.alignment import (
    MAX_WINDOW_S,
    Heard,
    heard_units,
    place_words,
    plan_windows,
    settle,
)


def heard(text: str, start: float = 0.0, step: float = 0.5) -> list[Heard]:
    """Words heard one after another, `step` seconds each."""
    out = []
    for k, word in enumerate(text.split()):
        out.append(Heard(match_key(word), start + k * step, start + (k + 1) * step, word))
    return out


def test_written_words_keep_spelling_punctuation_and_spacing() -> None:
    words = written_words("Hello, world —\nit cost £13.60 in 2014.", "en")
    assert [w.text for w in words] == [
        "Hello,",
        "world",
        "—",
        "it",
        "cost",
        "£13.60",
        "in",
        "2014.",
    ]
    assert [w.space_before for w in words][:2] == [False, True]
    japanese = written_words("真っ昼間なのに、\n「電柱」にAIが2014年。", "ja")
    assert "".join(w.text for w in japanese) == "真っ昼間なのに、「電柱」にAIが2014年。"
    assert not any(w.space_before for w in japanese)  # a line break is no space in Japanese
    assert [w.text for w in japanese if w.text in ("AI", "2014")] == ["AI", "2014"]
    thai = written_words("สวัสดีครับ ผม", "th")
    assert "".join((" " if w.space_before else "") + w.text for w in thai) == "สวัสดีครับ ผม"
    assert match_key("Don't,") == "dont" and match_key("£13.60") == "1360" and match_key("&") == "&"


def test_a_caption_file_gives_its_words_and_a_broken_one_says_so() -> None:
    vtt = (
        b"WEBVTT\n\n00:01.000 --> 00:02.000\n<v Bob>Hello</v> there\n\n"
        b"00:03.000 --> 00:04.000\nBye.\n"
    )
    assert script_text(vtt).split() == ["Hello", "there", "Bye."]
    srt = b"1\n00:00:01,000 --> 00:00:02,000\nHi <i>you</i>\n"
    assert script_text(srt) == "Hi you"
    assert script_text("\ufeffplain words\n".encode()) == "plain words\n"
    (cue,) = script_cues(srt)
    assert cue.lines == ("Hi you",) and cue.markup is not None
    with pytest.raises(ScriptError, match="not UTF-8"):
        script_text(b"\xff\xfe\x00")
    with pytest.raises(ScriptError, match="no words"):
        script_text(b"  \n ")
    with pytest.raises(ScriptError, match="broken caption file: line 3"):
        script_text(b"WEBVTT\n\n00:01.000 --> 00:00.500\nbackwards\n")
    with pytest.raises(ScriptError, match="not plain text"):
        script_cues(b"plain words")


def test_matching_words_sit_where_they_were_heard_and_others_between() -> None:
    written = written_words("And so my fellow Americans, ask not", "en")
    placed, uncaptioned = place_words(written, heard("and so my fellow citizens ask not"), 5.0)
    assert [p.how for p in placed] == ["matched"] * 4 + ["heard"] + ["matched"] * 2
    assert placed[4].start == 2.0 and placed[4].end == 2.5  # where "citizens" was heard
    assert uncaptioned == []


def test_speech_without_words_is_reported_and_words_without_speech_are_unheard() -> None:
    said = "one two three four five six seven eight nine ten"
    written = written_words("one two three four eight nine ten", "en")
    placed, uncaptioned = place_words(written, heard(said), 6.0)
    assert len(placed) == 7 and all(p.how == "matched" for p in placed)
    assert [(u.start, u.end, u.heard) for u in uncaptioned] == [(2.0, 3.5, "five six seven")]
    assert placed[3].cut_after  # no window spans the uncaptioned speech
    windows = plan_windows(placed, 6.0)
    assert [w.words for w in windows] == [(0, 1, 2, 3), (4, 5, 6)]
    assert windows[0].end <= 2.1 and windows[1].start >= 3.1

    written = written_words("one two three this was never said four five", "en")
    placed, uncaptioned = place_words(written, heard("one two three four five"), 3.0)
    assert [p.how for p in placed][3:7] == ["unheard"] * 4 and uncaptioned == []
    words, aligned, interpolated = settle(placed, {}, 3.0)
    assert (aligned, interpolated) == (5, 4)
    assert [w.text for w in words] == [
        "one",
        "two",
        "three",
        "this",
        "was",
        "never",
        "said",
        "four",
        "five",
    ]
    assert words[2].end <= words[3].start and words[6].end <= words[7].start


def test_a_stray_heard_word_is_not_reported_and_a_report_keeps_repeated_words() -> None:
    written = written_words("one two three four five six", "en")
    _, uncaptioned = place_words(written, heard("one two three uh four five six"), 4.0)
    assert uncaptioned == []  # one word the model put in: not worth a report
    said = "one two three that that was it four five six"
    _, uncaptioned = place_words(written, heard(said), 6.0)
    assert [u.heard for u in uncaptioned] == ["that that was it"]


def test_more_words_than_the_speech_facing_them_could_hold_have_no_speech() -> None:
    said = "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9"
    rest = " ".join(f"x{k}" for k in range(16))
    written = written_words(f"{said} {rest} thank you for listening", "en")
    # the recording stops after w9; the model heard a mumble, then a phrase it often invents
    heard_words = heard(said) + heard("uh um", start=5.0, step=0.3)
    heard_words += heard("thank you for listening", start=5.6, step=0.2)
    placed, uncaptioned = place_words(written, heard_words, 6.5)
    assert [p.how for p in placed[10:26]] == ["unheard"] * 16
    assert [u.heard for u in uncaptioned] == ["uh um"]
    _, aligned, interpolated = settle(placed, {}, 6.5)
    assert (aligned, interpolated) == (14, 16)


def test_two_words_facing_nothing_are_still_said_and_forced() -> None:
    written = written_words("fellow citizens of America", "en")
    placed, _ = place_words(written, heard("fellow of America"), 2.0)
    assert [p.how for p in placed] == ["matched", "heard", "matched", "matched"]
    assert placed[1].start == placed[0].end and placed[1].end == placed[2].start


def test_windows_stay_under_thirty_seconds_and_cut_in_pauses() -> None:
    text = " ".join(f"w{k}" for k in range(200))
    said = heard(text, step=0.4)
    placed, _ = place_words(written_words(text, "en"), said, 80.0)
    windows = plan_windows(placed, 80.0)
    assert all(w.end - w.start <= MAX_WINDOW_S + 1.0 for w in windows)
    assert [k for w in windows for k in w.words] == list(range(200))  # each word once, in order
    assert all(a.end <= b.start + 0.5 for a, b in itertools.pairwise(windows))
    assert max(len(w.words) for w in plan_windows(placed, 80.0, max_words=30)) <= 30


def test_a_forced_time_far_from_where_a_word_was_heard_is_not_taken() -> None:
    placed, _ = place_words(written_words("alpha beta gamma", "en"), heard("alpha beta gamma"), 2.0)
    forced = {0: (0.05, 0.45, 0.9), 1: (9.0, 9.5, 0.9), 2: (1.02, 1.4, 0.9)}
    words, aligned, interpolated = settle(placed, forced, 2.0)
    assert [(w.start, w.end) for w in words] == [(0.05, 0.45), (0.5, 1.0), (1.02, 1.4)]
    assert (aligned, interpolated) == (3, 0)


def test_punctuation_alone_is_never_forced_and_sits_after_the_word_before() -> None:
    written = written_words("ask not — ask", "en")
    placed, _ = place_words(written, heard("ask not ask"), 2.0)
    windows = plan_windows(placed, 2.0)
    assert [k for w in windows for k in w.words] == [0, 1, 3]
    words, _, _ = settle(placed, {0: (0.0, 0.4, 1), 1: (0.5, 0.9, 1), 3: (1.0, 1.4, 1)}, 2.0)
    assert (words[2].start, words[2].end) == (0.9, 0.9)


def test_heard_units_of_unspaced_writing_share_their_words_time() -> None:
    units = heard_units([Word("電球", 1.0, 2.0)], unspaced=True)
    assert [(u.key, u.start, u.end) for u in units] == [("電", 1.0, 1.5), ("球", 1.5, 2.0)]


def test_window_audio_cuts_each_window_from_a_stream_holding_little() -> None:
    import numpy as np

    from transforms.alignment import Window

    blocks = (np.full(1600, k, dtype=np.int16) for k in range(100))  # 10 s in 0.1 s blocks
    windows = [Window(1.0, 2.0, (0,)), Window(1.5, 3.0, (1,)), Window(9.5, 12.0, (2,))]
    cut = list(window_audio(blocks, windows))
    assert [len(a) for _, a in cut] == [16000, 24000, 8000]  # the last one ends with the audio
    assert cut[0][1][0] == 10 and cut[1][1][0] == 15 and cut[2][1][-1] == 99


def test_a_forced_word_loses_the_pause_it_took_in() -> None:
    import numpy as np

    speech = np.array([False] * 10 + [True] * 10 + [False] * 10)  # 32 ms frames
    assert trim_to_speech(0.0, 0.96, speech) == pytest.approx((0.32, 0.64))
    assert trim_to_speech(0.0, 0.2, speech) == (0.0, 0.2)  # no speech heard: kept as it was


def test_kept_cues_keep_their_text_and_only_the_asked_ones_get_new_times() -> None:
    given = [
        Cue(10.0, 11.0, ("one two",), ()),
        Cue(12.0, 13.0, ("three",), ()),
        Cue(14.0, 15.0, ("four five",), ()),
    ]
    groups = [written_words(" ".join(c.lines), "en") for c in given]
    words = [Word(t, s, e) for t, s, e in [("one", 0.0, 0.4), ("two", 0.5, 0.9),
             ("three", 1.5, 2.0), ("four", 3.0, 3.4), ("five", 3.5, 4.0)]]  # fmt: skip
    request = UploadRequest("v", "file:///v.wav", transcript="file:///v.vtt", keep_cues=True)
    every = retimed_cues(given, groups, words, CaptionRules(), 20.0, request)
    assert [c.lines for c in every] == [c.lines for c in given]
    assert [round(c.start, 2) for c in every] == [0.0, 1.5, 3.0]
    gap = CaptionRules().min_gap_s
    assert all(a.end + gap <= b.start + 1e-9 for a, b in itertools.pairwise(every))
    some = UploadRequest(
        "v", "file:///v.wav", transcript="file:///v.vtt", keep_cues=True, retime_cues=(1, 1)
    )
    middle = retimed_cues(given, groups, words, CaptionRules(), 20.0, some)
    assert (middle[0].start, middle[2].start) == (10.0, 14.0)  # the others keep their times
    assert middle[1].start >= 1.5


def test_keep_cues_and_retime_cues_need_a_transcript_and_an_order() -> None:
    with pytest.raises(CaptionError, match="no transcript"):
        UploadRequest("v", "file:///v.wav", keep_cues=True)
    with pytest.raises(CaptionError, match="first <= last"):
        UploadRequest(
            "v", "file:///v.wav", transcript="file:///t", keep_cues=True, retime_cues=(3, 1)
        )
    event = parse_upload_event(
        '{"video_id": "v", "source": "s3://bucket/v.wav", "transcript": "s3://bucket/t.vtt", '
        '"keep_cues": true, "retime_cues": [0, 2]}'
    )
    assert event.keep_cues and event.retime_cues == (0, 2)
    with pytest.raises(CaptionError, match="transcript"):
        parse_upload_event('{"video_id": "v", "source": "s3://b1/v", "transcript": "http://x/t"}')


def test_an_aligned_revision_says_so_in_its_note() -> None:
    meta = TrackMeta(3, False, "captions", "2026-12-07T10:00:00Z", None, (120, 4))
    again = read_track_meta(f"WEBVTT\n\n{meta.note()}\n00:01.000 --> 00:02.000\nHi\n")
    assert again == meta and again.maker == "aligned"
    plain = TrackMeta(2, False, "captions", "2026-12-07T10:00:00Z")
    assert read_track_meta(f"WEBVTT\n\n{plain.note()}\n").maker == "person"  # type: ignore[union-attr]
    assert WrittenWord("x").space_before
