"""Checkers of the hard caption rules, shared by unit tests (cues) and end-to-end tests (VTT).

`assert_hard_caption_rules` checks `Cue` objects from `layout_cues` against the words it was
given; `check_vtt_text` checks a written WebVTT track and returns its violations as text.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Sequence

import webvtt

from captions.cues import CaptionRules, Cue, split_at_long_pauses
from captions.line_breaks import NEVER, break_penalties
from captions.markup import parse_cue_text, visible_lines
from schemas.transcript import Word, join_words
from tests.webvtt_validator import w3c_webvtt_errors

EPS = 1e-9  # float noise in times computed by layout_cues
MS_TOLERANCE_S = 0.0015
DEFAULT_RULES = CaptionRules()  # timestamps in a file are cut to whole milliseconds


def shown_texts(words: Sequence[Word]) -> list[str]:
    """The texts layout_cues must show for `words`: blank words dropped, single spaces."""
    return [" ".join(w.text.split()) for w in words if w.text.strip()]


def caption_rule_violations(
    cues: Sequence[Cue], words: Sequence[Word], rules: CaptionRules
) -> list[str]:
    """Every hard rule the cues break, as readable lines (empty when all hold)."""
    problems: list[str] = []
    shown = [w.text for cue in cues for w in cue.words]
    if shown != shown_texts(words):
        problems.append(f"words changed: {shown_texts(words)!r} -> {shown!r}")
    breakable = allowed_breaks([w for cue in cues for w in cue.words], rules)
    first_word = 0
    previous: Word | None = None
    for k, cue in enumerate(cues):
        name = f"cue {k} {cue.text!r} [{cue.start}, {cue.end}]"
        if first_word and first_word - 1 not in breakable:
            problems.append(f"{name}: starts inside a word of the cue before")
        problems += [f"{name}: {p}" for p in _line_violations(cue, first_word, breakable, rules)]
        first_word += len(cue.words)
        if not cue.words:
            problems.append(f"{name}: shows no word")
            continue
        for word in cue.words:
            if not (math.isfinite(word.start) and math.isfinite(word.end)):
                problems.append(f"{name}: word {word.text!r} has no finite time")
            elif word.end < word.start or (previous and word.start < previous.end - EPS):
                problems.append(f"{name}: word {word.text!r} out of time order")
            previous = word
        if not (math.isfinite(cue.start) and math.isfinite(cue.end)):
            problems.append(f"{name}: times not finite")
            continue
        duration = cue.end - cue.start
        if not rules.min_duration_s - EPS <= duration <= rules.max_duration_s + EPS:
            problems.append(f"{name}: lasts {duration:.4f} s")
        first, last = cue.words[0], cue.words[-1]
        if cue.start < first.start - EPS:
            problems.append(f"{name}: starts before its first word ({first.start})")
        prev_end = cues[k - 1].end if k else -math.inf
        if (
            abs(cue.start - first.start) > EPS
            and abs(cue.start - (prev_end + rules.min_gap_s)) > EPS
        ):
            problems.append(f"{name}: starts late although the previous cue left room")
        if cue.end > max(last.end + rules.max_linger_s, cue.start + rules.min_duration_s) + EPS:
            problems.append(f"{name}: lingers past its last word ({last.end})")
        for a, b in itertools.pairwise(cue.words):
            if b.start - a.end > rules.max_pause_in_cue_s + EPS:
                problems.append(f"{name}: spans a pause of {b.start - a.end:.3f} s")
        if k and cue.start - prev_end < rules.min_gap_s - EPS:
            problems.append(f"{name}: gap {cue.start - prev_end:.4f} s after the previous cue")
    return problems


def allowed_breaks(shown: Sequence[Word], rules: CaptionRules) -> set[int]:
    """Indices k of the shown words after which a line or cue may break: where the layout's
    own break rules allow it, within each pause-free run (and always at a long pause)."""
    allowed: set[int] = set()
    at = 0
    for block in split_at_long_pauses(shown, rules):
        penalties = break_penalties(block, rules.phrases)
        allowed |= {at + k for k, p in enumerate(penalties) if p < NEVER}
        at += len(block)
        allowed.add(at - 1)
    return allowed


def _line_violations(
    cue: Cue, first_word: int, breakable: set[int], rules: CaptionRules
) -> list[str]:
    """Line count and width, and that the lines are exactly the cue's words, joined as the
    model spaced them and broken only where a break may fall."""
    problems: list[str] = []
    if not 1 <= len(cue.lines) <= rules.max_lines:
        problems.append(f"{len(cue.lines)} lines")
    words = list(cue.words)
    texts = [w.text for w in words]
    at = 0
    for n, line in enumerate(cue.lines):
        taken = 1
        while at + taken <= len(words) and len(join_words(words[at : at + taken])) < len(line):
            taken += 1
        if at + taken > len(words) or join_words(words[at : at + taken]) != line:
            return [*problems, f"line {line!r} is not whole words of {texts!r}"]
        inner = [first_word + k for k in range(at, at + taken - 1)]
        if n < len(cue.lines) - 1 and first_word + at + taken - 1 not in breakable:
            problems.append(f"line {line!r} ends inside a word")
        if rules.width(line) > rules.max_chars_per_line and any(k in breakable for k in inner):
            problems.append(f"line {line!r} has width {rules.width(line):g}")
        at += taken
    if at != len(texts):
        problems.append(f"words {texts[at:]!r} not on any line")
    return problems


def assert_hard_caption_rules(
    cues: Sequence[Cue], words: Sequence[Word], rules: CaptionRules
) -> None:
    """Fail with every broken hard rule listed."""
    problems = caption_rule_violations(cues, words, rules)
    assert not problems, "\n".join(problems)


def check_vtt_text(
    vtt_text: str, expected_words: Sequence[str] | None, rules: CaptionRules = DEFAULT_RULES
) -> list[str]:
    """The hard caption rules a WebVTT track breaks, as readable lines (empty when all hold).

    Checks that the W3C's WebVTT parser finds no error in it, then line width and count,
    duration, gaps and overlaps (to ~1 ms, the file's resolution) and, when `expected_words`
    is given, that the track shows exactly those words in order.
    """
    try:
        track = webvtt.from_buffer(io.StringIO(vtt_text))
    except Exception as error:  # any parse failure is a violation, not a crash of the checker
        return [f"not WebVTT: {error}"]
    problems = [f"W3C WebVTT parser: {e}" for e in w3c_webvtt_errors([vtt_text])[0]]
    shown: list[str] = []
    prev_end: float | None = None
    for k, caption in enumerate(track.captions):
        start = caption.start_time.in_milliseconds() / 1000
        end = caption.end_time.in_milliseconds() / 1000
        lines = list(visible_lines(parse_cue_text("\n".join(caption.lines))))  # as viewers read
        name = f"cue {k} [{caption.start} --> {caption.end}] {lines!r}"
        if not 1 <= len(lines) <= rules.max_lines:
            problems.append(f"{name}: {len(lines)} lines")
        for line in lines:
            # A line wider than allowed is one word alone; in writing without spaces a file
            # cannot tell where words end, so every line must fit.
            alone = len(line.split()) == 1 and rules.phrases is None
            if rules.width(line) > rules.max_chars_per_line and not alone:
                problems.append(f"{name}: line of width {rules.width(line):g}")
        duration = end - start
        if (
            not rules.min_duration_s - MS_TOLERANCE_S
            <= duration
            <= rules.max_duration_s + MS_TOLERANCE_S
        ):
            problems.append(f"{name}: lasts {duration:.3f} s")
        if prev_end is not None:
            if start < prev_end:
                problems.append(f"{name}: overlaps the previous cue (ends {prev_end:.3f})")
            elif start - prev_end < rules.min_gap_s - MS_TOLERANCE_S:
                problems.append(f"{name}: gap of {start - prev_end:.3f} s after the previous cue")
        prev_end = end
        shown += [word for line in lines for word in line.split()]
    if expected_words is not None:
        expected = [part for word in expected_words for part in word.split()]
        if shown != expected:
            problems.append(f"words differ: expected {expected!r}, track shows {shown!r}")
    return problems
