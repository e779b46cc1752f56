"""Cue layout: hard rules property-tested over any words, soft rules shown by examples."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from captions.cues import MIN_SHOWN_S, CaptionRules, Cue, layout_cues, repair_word_times
from captions.formats.shown import clock_time
from captions.line_breaks import NO_LINE_START
from captions.rules import rules_for_language
from schemas.transcript import Word
from tests.caption_rules import assert_hard_caption_rules, caption_rule_violations, shown_texts

RULES = CaptionRules()
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def spoken(text: str, start: float = 0.0, per_word: float = 0.3, gap: float = 0.0) -> list[Word]:
    """Words of `text` said one after another, each `per_word` long, `gap` apart."""
    words, t = [], start
    for token in text.split():
        words.append(Word(token, t, t + per_word))
        t += per_word + gap
    return words


def chars_per_second(cue: Cue) -> float:
    return len(" ".join(w.text for w in cue.words)) / (cue.end - cue.start)


# --- strategies: realistic speech and adversarial garbage --------------------------------------

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéüñ£0123456789'&<>"
PUNCTUATION = st.sampled_from(["", "", "", ".", ",", "?", "!", ";", ":", "...", '."', "—"])
plain_word = st.builds(
    lambda core, end: core + end, st.text(LETTERS, min_size=1, max_size=12), PUNCTUATION
)
word_text = st.one_of(
    plain_word,
    plain_word,
    st.sampled_from(["and", "but", "to", "of", "the", "because", "2014.", "£13.60", "Mr.", "-->"]),
    st.text(LETTERS, min_size=40, max_size=50),  # longer than a line, some of them
    st.sampled_from(["", " ", "\t", "a  b", " lead"]),  # blank, or odd whitespace
)
pause_s = st.one_of(st.just(0.0), st.floats(0, 0.6), st.floats(0, 5))
length_s = st.one_of(st.just(0.0), st.floats(0, 0.5), st.floats(0, 2))
GARBLE = ["ok"] * 6 + ["nan", "end_before_start", "zero", "random", "inf", "negative"]


@st.composite
def spoken_words(draw: st.DrawFn, clean: bool = False) -> list[Word]:
    """Words with times as a speaker says them, at a rate from slow to absurd, maybe garbled."""
    pace = draw(st.sampled_from([1e-4, 0.01, 0.1, 0.5, 1.0, 2.0]))  # 1e-4: thirty words in 0.1 s
    t = draw(st.floats(0, 100))
    words = []
    count = draw(st.one_of(st.integers(0, 8), st.integers(0, 120)))
    said = st.lists(st.tuples(word_text, pause_s, length_s), min_size=count, max_size=count)
    for text, pause, length in draw(said):
        start = t + pause * pace
        end = start + max(length * pace, 1e-3 if clean else 0.0)
        t = end
        kind = "ok" if clean else draw(st.sampled_from(GARBLE))
        if kind == "nan":
            start, end = math.nan, math.nan
        elif kind == "end_before_start":
            start, end = end, start - 1
        elif kind == "zero":
            end = start
        elif kind == "random":
            start = draw(st.floats(0, 200))
            end = start + draw(st.floats(-1, 3))
        elif kind == "inf":
            end = math.inf
        elif kind == "negative":
            start, end = -start - 1, -1.0
        words.append(Word(text, start, end))
    if not clean and draw(st.booleans()):
        # times running backwards: the whole list said in reverse order
        words = [
            replace(w, start=r.start, end=r.end) for w, r in zip(words, words[::-1], strict=True)
        ]
    return words


caption_rules = st.one_of(
    st.just(RULES),
    st.builds(
        lambda chars, lines, min_d, extra, gap, chain, cps, pause, linger: CaptionRules(
            chars, lines, min_d, min_d + extra, gap, chain, cps, pause, linger
        ),
        st.integers(5, 60),
        st.integers(1, 3),
        st.floats(0.1, 2),
        st.floats(0, 8),
        st.floats(0, 0.3),
        st.floats(0, 1),
        st.floats(5, 30),
        st.floats(0.2, 3),
        st.floats(0, 1.5),
    ),
)


# --- hard rules, for any input ------------------------------------------------------------------


@PROPERTY
@given(spoken_words())
def test_hard_rules_hold_for_any_words(words: list[Word]) -> None:
    assert_hard_caption_rules(layout_cues(words), words, RULES)


@PROPERTY
@given(spoken_words(), caption_rules)
def test_hard_rules_hold_under_any_rules(words: list[Word], rules: CaptionRules) -> None:
    assert_hard_caption_rules(layout_cues(words, rules), words, rules)


@PROPERTY
@given(spoken_words(clean=True))
def test_well_timed_words_keep_their_times(words: list[Word]) -> None:
    shown = [w for w in words if w.text.strip()]
    laid_out = [w for cue in layout_cues(words) for w in cue.words]
    assert [(w.start, w.end) for w in laid_out] == [(w.start, w.end) for w in shown]


@PROPERTY
@given(spoken_words())
def test_cue_starts_late_only_after_a_cue_held_for_minimum_duration(words: list[Word]) -> None:
    for before, cue in itertools.pairwise(layout_cues(words)):
        if cue.start > cue.words[0].start:
            assert before.end - before.start == pytest.approx(RULES.min_duration_s)


# --- words and lines ----------------------------------------------------------------------------


def test_cue_never_splits_a_word() -> None:
    words = spoken("internationalization " * 3 + "extraordinarily counterproductive ideas " * 3)
    cues = layout_cues(words)
    assert_hard_caption_rules(cues, words, RULES)
    for cue in cues:
        assert [t for line in cue.lines for t in line.split()] == [w.text for w in cue.words]


def test_word_longer_than_a_line_stands_alone_on_its_line() -> None:
    long_word = "Pneumonoultramicroscopicsilicovolcanoconiosis-like"  # 50 characters
    words = spoken(f"He said {long_word} twice.")
    cues = layout_cues(words)
    assert_hard_caption_rules(cues, words, RULES)
    assert [line for cue in cues for line in cue.lines if long_word in line] == [long_word]


def test_short_text_stays_on_one_line() -> None:
    (cue,) = layout_cues(spoken("Hello there, how are you?"))
    assert cue.lines == ("Hello there, how are you?",)


def test_two_lines_are_balanced() -> None:
    words = spoken("we walked along the river path until the sun went down behind the hills")
    (cue,) = layout_cues(words)
    top, bottom = cue.lines
    assert abs(len(top) - len(bottom)) <= 10
    assert len(bottom) >= len(top) - 4  # bottom line not much shorter


def test_line_breaks_at_clause_punctuation() -> None:
    (cue,) = layout_cues(spoken("When we got to the station, the last train had already left"))
    assert cue.lines == ("When we got to the station,", "the last train had already left")


def test_line_never_ends_on_an_article() -> None:
    (cue,) = layout_cues(spoken("I think that we should probably take the long road home tonight"))
    assert not any(line.split()[-1] in {"a", "an", "the"} for line in cue.lines)


# --- where cues break ---------------------------------------------------------------------------


def test_breaks_at_sentence_end_first() -> None:
    words = spoken(
        "This is the first sentence. And this is the second one, which runs on for quite a while."
    )
    cues = layout_cues(words)
    assert [cue.words[-1].text for cue in cues] == ["sentence.", "while."]


def test_breaks_before_a_conjunction_rather_than_mid_phrase() -> None:
    words = spoken(
        "Our neighbours painted their fence bright yellow last summer but nobody else really liked"
        " the colour much"
    )
    cues = layout_cues(words)
    assert len(cues) == 2
    assert cues[1].words[0].text == "but"


def test_long_pause_starts_a_new_cue() -> None:
    words = spoken("Hello there.") + spoken("General Kenobi.", start=0.6 + 2.0)
    cues = layout_cues(words)
    assert [cue.text for cue in cues] == ["Hello there.", "General Kenobi."]


def test_dense_speech_splits_before_seven_seconds() -> None:
    words = spoken("la " * 60, per_word=0.25)  # 180 characters over 15 s
    cues = layout_cues(words)
    assert len(cues) >= 3
    assert all(cue.words[-1].end - cue.words[0].start <= 7.0 for cue in cues)
    assert_hard_caption_rules(cues, words, RULES)


def test_fast_speech_splits_for_reading_speed() -> None:
    fast = spoken("Well, I never thought we would ever get here.", per_word=0.16)
    slow = spoken("And so here we are at last after all of these long years.", fast[-1].end, 0.45)
    without_reading_speed = layout_cues(fast + slow, CaptionRules(max_chars_per_second=math.inf))
    cues = layout_cues(fast + slow)
    assert max(map(chars_per_second, without_reading_speed)) > 17  # the sentence break alone
    assert all(chars_per_second(cue) <= 17 for cue in cues)


# --- timing -------------------------------------------------------------------------------------


def test_cue_starts_with_first_word() -> None:
    words = spoken("Right on time.", start=12.345)
    (cue,) = layout_cues(words)
    assert cue.start == 12.345


def test_cue_lingers_at_most_half_a_second() -> None:
    (cue,) = layout_cues(spoken("A short line spoken at a normal pace."))
    assert cue.end == pytest.approx(cue.words[-1].end + 0.5)


def test_short_cue_is_held_for_minimum_duration() -> None:
    (cue,) = layout_cues([Word("Yes.", 3.0, 3.2)])
    assert cue.end - cue.start == pytest.approx(5 / 6)


def test_short_gap_is_chained_to_two_frames() -> None:
    first = spoken("The first sentence is long enough to fill up most of a cue.")
    second = spoken(
        "The second one is just as long and fills another whole cue.", first[-1].end + 0.3
    )
    cues = layout_cues(first + second)
    assert len(cues) == 2
    assert cues[1].start == second[0].start
    assert cues[1].start - cues[0].end == pytest.approx(2 / 24)


def test_clear_gap_is_kept_and_cue_lingers() -> None:
    first = spoken("The first sentence is long enough to fill up most of a cue.")
    second = spoken(
        "The second one is just as long and fills another whole cue.", first[-1].end + 1.2
    )
    cues = layout_cues(first + second)
    assert cues[0].end == pytest.approx(first[-1].end + 0.5)
    assert cues[1].start - cues[0].end == pytest.approx(0.7)


def test_impossibly_fast_speech_keeps_cues_apart_and_starts_late() -> None:
    words = [Word(f"word{i}", 10 + i * 0.1 / 30, 10 + (i + 1) * 0.1 / 30) for i in range(30)]
    cues = layout_cues(words)
    assert_hard_caption_rules(cues, words, RULES)
    assert len(cues) > 1
    assert cues[0].start == 10
    assert all(cue.start > cue.words[0].start for cue in cues[1:])  # late, never overlapping


# --- words without good times -------------------------------------------------------------------


def test_word_without_time_is_kept_and_interpolated() -> None:
    words = [Word("in", 1.0, 1.2), Word("2014.", math.nan, math.nan), Word("We", 2.0, 2.2)]
    (cue,) = layout_cues(words)
    assert [w.text for w in cue.words] == ["in", "2014.", "We"]
    number = cue.words[1]
    assert 1.2 <= number.start < number.end <= 2.0


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (math.nan, math.nan),
        (5.0, 4.0),
        (1.5, 1.5),
        (math.inf, math.inf),
        (-3.0, -1.0),
        (99.0, 99.5),
    ],
)
def test_word_with_odd_times_keeps_its_place(start: float, end: float) -> None:
    words = [Word("one", 1.0, 1.2), Word("odd", start, end), Word("three", 1.8, 2.0)]
    repaired = repair_word_times(words)
    assert [w.text for w in repaired] == ["one", "odd", "three"]
    assert 1.2 <= repaired[1].start <= repaired[1].end <= 1.8


def test_untimed_words_at_the_edges_get_times_near_their_neighbours() -> None:
    nan = math.nan
    words = [Word("£13.60", nan, nan), Word("only", 4.0, 4.3), Word("today.", nan, nan)]
    repaired = repair_word_times(words)
    assert [(w.start, w.end) for w in repaired] == [
        pytest.approx((3.7, 4.0)),
        (4.0, 4.3),
        pytest.approx((4.3, 4.6)),
    ]


def test_blank_words_are_skipped_and_whitespace_trimmed() -> None:
    words = [Word(" Hello", 0.0, 0.3), Word("  ", 0.3, 0.4), Word("world ", 0.4, 0.7)]
    (cue,) = layout_cues(words)
    assert cue.lines == ("Hello world",)
    assert shown_texts(words) == ["Hello", "world"]


def test_nothing_runs_past_the_end_of_the_media() -> None:
    # The 2-hour benchmark's ending: words the model gave no length, right at the end.
    words = [*spoken("and that is all for today", start=7198.0), Word("thanks", 7199.9, 7199.9)]
    words += [Word("bye.", 7199.9, 7199.9), Word("now", math.nan, math.nan)]
    cues = layout_cues(words, media_end=7200.0)
    assert [w.text for c in cues for w in c.words] == shown_texts(words)
    assert all(w.end <= 7200.0 for c in cues for w in c.words)
    assert cues[-1].end <= 7200.0
    assert layout_cues(words)[-1].end > 7200.0  # without the bound they would linger past it


@PROPERTY
@given(spoken_words(), st.floats(0.5, 1.0))
def test_cues_stay_inside_the_media(words: list[Word], fraction: float) -> None:
    timed = [w.end for w in words if math.isfinite(w.end)]
    media_end = max([1.0, *timed]) * fraction
    cues = layout_cues(words, media_end=media_end)
    assert [w.text for c in cues for w in c.words] == shown_texts(words)
    for cue in cues:
        assert cue.start < cue.end <= media_end
        assert all(0 <= w.start <= w.end <= media_end for w in cue.words)
    for before, after in itertools.pairwise(cues):
        assert before.end <= after.start


def assert_valid_cues_as_written(cues: list[Cue], media_end: float) -> None:
    """Every cue as a file writes it (whole milliseconds) ends after it starts, in order, and
    inside the media (a media shorter than two frames aside)."""
    ms = [(clock_time(c.start), clock_time(c.end)) for c in cues]
    for (start, end), cue in zip(ms, cues, strict=True):
        assert start < end, (start, end, cue.lines)
        assert cue.end <= max(media_end, MIN_SHOWN_S) + 1e-9
    for (_, end), (start, _) in itertools.pairwise(ms):
        assert end <= start


# Adversarial word times: many words in little time, equal times, words at the media's end.
crowded_words = st.builds(
    lambda texts, times: [Word(t, a, b) for t, (a, b) in zip(texts, times, strict=False)],
    st.lists(plain_word, min_size=1, max_size=60),
    st.lists(
        st.tuples(st.sampled_from([0.0, 1.5, 1.539, 1.5395]), st.sampled_from([1.539, 1.54])),
        min_size=60,
        max_size=60,
    ),
)


@PROPERTY
@given(crowded_words, st.sampled_from([1.539, 1.7, 0.05, 0.0]), caption_rules)
def test_cues_end_after_they_start_however_little_time_the_media_leaves(
    words: list[Word], media_end: float, rules: CaptionRules
) -> None:
    cues = layout_cues(words, rules, media_end=media_end)
    assert [w.text for c in cues for w in c.words] == shown_texts(words)
    assert_valid_cues_as_written(cues, media_end)


@PROPERTY
@given(spoken_words(), st.floats(0.01, 1.0), caption_rules)
def test_cues_are_valid_for_any_words_and_any_media_end(
    words: list[Word], fraction: float, rules: CaptionRules
) -> None:
    timed = [w.end for w in words if math.isfinite(w.end)]
    media_end = max([0.1, *timed]) * fraction
    assert_valid_cues_as_written(layout_cues(words, rules, media_end=media_end), media_end)


def test_twenty_words_in_a_short_recording_make_valid_cues() -> None:
    # The test Whisper says twenty words in every window, also of a 1.7 s recording whose
    # speech ends at 1.539 s: the last cue used to be 1.539 --> 1.539.
    words = spoken(
        "the quick brown fox jumps over the lazy dog while five boxing wizards jump quickly "
        "and a pack of my box holds five dozen",
        start=0.2,
        per_word=0.06,
    )
    words = [replace(w, start=min(w.start, 1.539), end=min(w.end, 1.539)) for w in words]
    cues = layout_cues(words, media_end=1.539)
    assert [w.text for c in cues for w in c.words] == shown_texts(words)
    assert_valid_cues_as_written(cues, 1.539)
    assert cues[-1].end - cues[-1].start >= MIN_SHOWN_S


def test_no_words_make_no_cues() -> None:
    assert layout_cues([]) == []
    assert layout_cues([Word(" ", 0.0, 1.0)]) == []


# --- configuration ------------------------------------------------------------------------------


def test_rules_are_configurable() -> None:
    rules = CaptionRules(max_chars_per_line=20, max_lines=1)
    words = spoken("Every rule of the layout can be changed by whoever runs the pipeline.")
    cues = layout_cues(words, rules)
    assert all(len(cue.lines) == 1 and len(cue.lines[0]) <= 20 for cue in cues)
    assert_hard_caption_rules(cues, words, rules)


def test_impossible_rules_are_refused() -> None:
    with pytest.raises(ValueError):
        CaptionRules(min_duration_s=8.0, max_duration_s=7.0)
    with pytest.raises(ValueError):
        CaptionRules(max_lines=0)


# --- the checker itself catches what it must ----------------------------------------------------


def test_rule_checker_reports_each_broken_rule() -> None:
    words = spoken("one two three four")
    one, _, three, four = repair_word_times(words)
    bad = [
        Cue(0.0, 0.5, ("one two",), (one,)),  # too short, shows a word it does not hold
        Cue(0.4, 9.0, ("three", "four", "x"), (three, four)),  # overlaps, too long, 3 lines
    ]
    problems = "\n".join(caption_rule_violations(bad, words, RULES))
    for expected in ("words changed", "lasts 0.5000", "not whole words", "3 lines", "lasts 8.6000"):
        assert expected in problems
    assert "gap -0.1000" in problems
    assert "lingers past its last word" in problems
    assert caption_rule_violations(layout_cues(words), words, RULES) == []


# --- writing without spaces, and words the model wrote together ----------------------------------

KANA_KANJI = st.sampled_from(
    [
        *"真昼間電柱球外自己的脚今天气我们公园散步",
        *["キャンプ", "サイト", "コンピューター", "なのに", "の", "に", "が", "を", "は", "ていた"],
        *["ッ", "ャ", "ー", "\u3002", "\u3001", "\u300c", "\u300d", "\uff01", "\uff1f"],
        *["AI", "2024", "Beam"],
    ]
)


@st.composite
def unspaced_words(draw: st.DrawFn) -> list[Word]:
    """Words as Whisper writes Japanese or Chinese: mostly no space before, some Latin words
    with one; times as a speaker says them, at a rate from slow to absurd."""
    pace = draw(st.sampled_from([0.01, 0.1, 0.3, 1.0]))
    t = draw(st.floats(0, 50))
    words = []
    for _ in range(draw(st.integers(0, 80))):
        text = draw(KANA_KANJI)
        start = t + draw(pause_s) * pace
        end = start + max(draw(length_s) * pace, 1e-3)
        t = end
        spaced = text.isascii() and draw(st.booleans())
        words.append(Word(text, start, end, space_before=spaced))
    return words


unspaced_rules = st.sampled_from(
    [rules_for_language(lang, RULES) for lang in ("ja", "zh", "yue", "th", "lo")]
    + [rules_for_language("ja", CaptionRules(max_lines=1)), CaptionRules(phrases="chars")]
)


@PROPERTY
@given(unspaced_words(), unspaced_rules)
def test_hard_rules_hold_for_words_without_spaces(words: list[Word], rules: CaptionRules) -> None:
    cues = layout_cues(words, rules)
    assert_hard_caption_rules(cues, words, rules)
    for cue in cues:
        for line in cue.lines:
            assert not re.search(r"[^\x00-\x7f] [^\x00-\x7f]", line), line  # no invented space
    starts_of_pauses = {cue.lines[0] for cue in cues}  # a run may begin with such a character
    for cue in cues:
        for line in cue.lines:
            assert line[0] not in NO_LINE_START or line in starts_of_pauses, line


def test_japanese_breaks_between_phrases_not_inside_words() -> None:
    # 「真っ昼間なのにキャンプの外れの電柱に電球がともっていた」, token by token as Whisper has it
    tokens = ["真", "っ", "昼", "間", "なの", "に", "キ", "ャ", "ン", "プ", "の", "外", "れ", "の"]
    tokens += ["電", "柱", "に", "電", "球", "が", "とも", "って", "いた"]
    words = [Word(t, i * 0.25, i * 0.25 + 0.2, space_before=False) for i, t in enumerate(tokens)]
    rules = rules_for_language("ja", RULES)
    cues = layout_cues(words, rules)
    assert_hard_caption_rules(cues, words, rules)
    lines = [line for cue in cues for line in cue.lines]
    assert "".join(lines) == "".join(tokens)
    phrases = ["真っ昼間なのに", "キャンプの", "外れの", "電柱に", "電球が", "ともっていた"]
    bounds = {sum(map(len, phrases[:k])) for k in range(len(phrases) + 1)}
    at = 0
    for line in lines:  # every line starts and ends between BudouX phrases
        assert at in bounds and at + len(line) in bounds, lines
        at += len(line)
    assert all(rules.width(line) <= 13 for line in lines)


def test_words_the_model_wrote_together_stay_together() -> None:
    said = ["Bonjour,", "je", "m", "'appelle", "Éric.", "C'est", "un", "non", "-dit", "connu."]
    words = [
        Word(t, i * 0.3, i * 0.3 + 0.25, space_before=t[0] not in "'-")
        for i, t in enumerate(said * 6)
    ]
    rules = CaptionRules(max_chars_per_line=14)
    cues = layout_cues(words, rules)
    assert_hard_caption_rules(cues, words, rules)
    text = "\n".join(cue.text for cue in cues)
    assert "m'appelle" in text and "non-dit" in text
    assert " '" not in text and " -" not in text
    assert not any(line.startswith(("'", "-")) for cue in cues for line in cue.lines)


def test_each_language_gets_its_guides_line_length_and_reading_speed() -> None:
    assert rules_for_language("ja", RULES).max_chars_per_line == 13
    assert rules_for_language("zh", RULES).max_chars_per_line == 16
    assert rules_for_language("ko", RULES).max_chars_per_second == 12
    assert rules_for_language("ja", RULES).width("AI、電球") == 4  # half-width counts 0.5
    assert rules_for_language("en", RULES) == RULES  # Latin-script defaults stay as they are
    assert rules_for_language("fr", CaptionRules(max_chars_per_line=37)).max_chars_per_line == 37
    assert rules_for_language(None, RULES) == RULES
