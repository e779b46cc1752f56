"""A cue checked against the caption rules of its language, as the editor checks it while a
person types (`gateway/static/rules.js` is the same check; both read one table of cases in the
tests): problems that stop a save (`wrong`) and the style guide's warnings. Only the text a
viewer reads counts: markup (`<i>`, a voice, ruby text) takes no room on a line."""

from __future__ import annotations

import math
from dataclasses import dataclass

from captions.markup import parse_notation, visible_lines
from captions.rules import CaptionRules

TOLERANCE_S = 0.0005  # times are whole milliseconds: a rule met to the millisecond is met


@dataclass(frozen=True)
class Problem:
    """What is wrong with a cue: the rule (`start`, `end`, `order`, `empty`, `lines`,
    `line_width`, `min_duration`, `max_duration`, `reading_speed`, `overlap`, `gap`), whether
    it stops a save, and a sentence for a person."""

    rule: str
    wrong: bool
    text: str


def cue_problems(
    start: float,
    end: float,
    text: str,
    next_start: float | None,
    rules: CaptionRules,
) -> list[Problem]:
    """The problems of one cue (`text` in the editor's notation, times in seconds, NaN for a
    time that is not one), and of its gap to the next cue's start."""
    problems: list[Problem] = []

    def warn(rule: str, sentence: str) -> None:
        problems.append(Problem(rule, False, sentence))

    def stop(rule: str, sentence: str) -> None:
        problems.append(Problem(rule, True, sentence))

    if math.isnan(start):
        stop("start", "The start is not a time (for example 1:02.500).")
    if math.isnan(end):
        stop("end", "The end is not a time (for example 1:04.000).")
    timed = not (math.isnan(start) or math.isnan(end))
    if timed and end <= start:
        stop("order", "It ends before it starts.")
    lines = [line for line in visible_lines(parse_notation(text)) if line]
    if not lines:
        stop("empty", "It has no text.")
    if len(lines) > rules.max_lines:
        warn("lines", f"{len(lines)} lines: at most {rules.max_lines}.")
    for k, line in enumerate(lines, start=1):
        width = _width(line, rules)
        if width > rules.max_chars_per_line:
            most = rules.max_chars_per_line
            warn("line_width", f"Line {k} has {width:g} characters: at most {most}.")
    if timed and end > start:
        shown = end - start
        if shown < rules.min_duration_s - TOLERANCE_S:
            warn("min_duration", f"On screen {shown:.2f} s: at least {rules.min_duration_s:.2f} s.")
        if shown > rules.max_duration_s + TOLERANCE_S:
            warn("max_duration", f"On screen {shown:.1f} s: at most {rules.max_duration_s:g} s.")
        speed = _width(" ".join(lines), rules) / shown
        if lines and speed > rules.max_chars_per_second:
            warn(
                "reading_speed",
                f"{speed:.1f} characters a second: at most {rules.max_chars_per_second:g}.",
            )
    if timed and next_start is not None and not math.isnan(next_start) and next_start >= start:
        if end > next_start:
            warn("overlap", "It overlaps the next cue.")
        elif next_start - end < rules.min_gap_s - TOLERANCE_S:
            warn("gap", f"Less than {round(rules.min_gap_s * 24)} frames before the next cue.")
    return problems


def _width(text: str, rules: CaptionRules) -> float:
    """A line's width to a tenth, as the editor rounds it (half up)."""
    return math.floor(rules.width(text) * 10 + 0.5) / 10
