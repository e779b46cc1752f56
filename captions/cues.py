"""Caption cue layout: timed words in, broadcast-style caption cues out.

The rules are those of the Netflix Timed Text Style Guide (TTSG, English), the BBC subtitle
guidelines and the DCMP Captioning Key; each is a field of `CaptionRules` with its source beside
it. Pure logic, no Beam.

Rules that hold for any input: every shown word appears once, in order, never split (blank words
are skipped); a line has at most `max_chars_per_line` characters, except a single word longer than
a line, which then stands alone on its own line; a cue has at most `max_lines` lines, lasts from
`min_duration_s` to `max_duration_s`, never starts before its first word, ends at most
`max_linger_s` after its last word unless the minimum duration needs more, never spans a pause
longer than `max_pause_in_cue_s`, and cues never overlap: `min_gap_s` lies between them.

What gives way when speech is too dense to show (thirty words in a tenth of a second): a cue then
starts late, `min_gap_s` after the previous one instead of with its first word, and reading speed
is not met. Line, order, duration, gap and no-overlap rules never give way, except at the very
end: given the media's duration, no word and no cue runs past it, so a last cue that starts
less than `min_duration_s` before the end is shorter (a player shows nothing after the end), or
joins the cue before it when that leaves it too little time to be seen (`fit_into_media`):
every cue ends after it starts.

Words the model gave no usable time (numbers and symbols often get none: NaN, zero length, end
before start, out of order) keep their place and get times interpolated from their neighbours.

Text is shown exactly as the model spelled it: words are joined with a space only where the
model put one, and breaks fall only where `captions.line_breaks` allows them (at spaces in
spaced writing, between phrases in Japanese, Chinese and Thai). "A word" in the rules above is
then a run of words no break may fall inside; widths and reading speed count characters the
way the language's guide does (`CaptionRules.half_width_weight`).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from captions.line_breaks import BREAK_AT_CLAUSE, NEVER, break_penalties
from captions.markup import CueText, plain_cue_text
from captions.rules import CaptionRules
from schemas.transcript import Word, join_words

__all__ = ["CaptionRules", "Cue", "layout_cues"]


@dataclass(frozen=True)
class Cue:
    """One caption on screen: its times in seconds, its lines (the text a viewer reads), the
    words it shows in order, and, for a cue a person wrote with markup (italics, voices, ...),
    that markup (`captions.markup`; None: the lines are all there is)."""

    start: float
    end: float
    lines: tuple[str, ...]
    words: tuple[Word, ...]
    markup: CueText | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def cue_text(self) -> CueText:
        """The cue's text with its markup, for the track writers."""
        return self.markup if self.markup is not None else plain_cue_text(self.lines)


DEFAULT_RULES = CaptionRules()

NATURAL_PAUSE_S = 0.3  # a pause this long between words breaks as well as a comma does

UNTIMED_WORD_S = 0.3  # the most time an interpolated word gets

# The shortest a cue may be shown, however little time the media leaves: two frames at 24 fps.
# A cue that ends where it starts is dropped by players.
MIN_SHOWN_S = 2 / 24

# Weights of the cue-break search: a cue costs CUE_COST, its break costs BREAK_WEIGHT x penalty.
CUE_COST = 3.0
BREAK_WEIGHT = 2.0
OVER_MAX_DURATION_COST = 100.0
READING_SPEED_WEIGHT = 8.0
CROWDING_WEIGHT = 20.0  # a cue too short for the next to start on time delays the next one


def layout_cues(
    words: Sequence[Word], rules: CaptionRules = DEFAULT_RULES, media_end: float | None = None
) -> list[Cue]:
    """Lay out timed words (in spoken order) as caption cues under `rules`, in time order.

    `media_end`, the media's duration in seconds, bounds every word and cue when given.
    """
    timed = repair_word_times(words, media_end)
    groups: list[list[Word]] = []
    lines: list[tuple[str, ...]] = []
    blocks = split_at_long_pauses(timed, rules)
    for k, block in enumerate(blocks):
        following_start = blocks[k + 1][0].start if k + 1 < len(blocks) else math.inf
        penalties = break_penalties(block, rules.phrases)
        for a, b in choose_cue_breaks(block, penalties, following_start, rules):
            groups.append(block[a:b])
            lines.append(wrap_lines(block[a:b], penalties[a : b - 1], rules))
    times = time_cues(groups, rules, media_end)
    if media_end is not None:
        groups, lines, times = fit_into_media(groups, lines, times, rules, media_end)
    return [
        Cue(start, end, cue_lines, tuple(group))
        for group, cue_lines, (start, end) in zip(groups, lines, times, strict=True)
    ]


def fit_into_media(
    groups: Sequence[list[Word]],
    lines: Sequence[tuple[str, ...]],
    times: Sequence[tuple[float, float]],
    rules: CaptionRules,
    media_end: float,
) -> tuple[list[list[Word]], list[tuple[str, ...]], list[tuple[float, float]]]:
    """Cues the end of the media leaves too little time, made valid: each joins the cue before
    it when it is under `MIN_SHOWN_S`, or under the minimum duration and the two fit in the
    line limits (the minimum duration, the line limits and "a cue starts with its first word"
    are the rules that then give way); a first cue still under `MIN_SHOWN_S` starts earlier, as
    far as the cue before it allows. So every cue ends after it starts, in order, and none runs
    past the media unless the media is shorter than `MIN_SHOWN_S`."""
    groups, lines, times = list(groups), list(lines), list(times)
    merged: set[int] = set()  # cues whose lines are laid out again below
    for k in range(len(groups) - 1, 0, -1):
        start, end = times[k]
        shown = end - start
        if shown >= rules.min_duration_s or end < media_end:  # not squeezed by the media's end
            continue
        both = [*groups[k - 1], *groups[k]]
        if shown < MIN_SHOWN_S or _fits_lines(both, rules):
            groups[k - 1 : k + 1] = [both]
            lines[k - 1 : k + 1] = [lines[k - 1]]
            times[k - 1 : k + 1] = [(times[k - 1][0], end)]
            merged = {m - 1 if m > k else m for m in merged if m != k} | {k - 1}
    for k in merged:
        lines[k] = wrap_lines(groups[k], break_penalties(groups[k], rules.phrases), rules)
    for k, (start, end) in enumerate(times):
        if end - start < MIN_SHOWN_S:
            floor = times[k - 1][1] + rules.min_gap_s if k else 0.0
            start = max(floor, min(start, end - rules.min_duration_s))
            times[k] = (start, max(end, start + MIN_SHOWN_S))
    return groups, lines, times


def _fits_lines(words: Sequence[Word], rules: CaptionRules) -> bool:
    """Whether `words` fit on one cue's lines."""
    units = _units(words, break_penalties(words, rules.phrases))
    widths, seps = _unit_widths(words, units, rules)
    return lines_needed(widths, seps, rules.max_chars_per_line) <= rules.max_lines


def repair_word_times(words: Sequence[Word], media_end: float | None = None) -> list[Word]:
    """The shown words: blank ones dropped, text with single spaces, finite times in order.

    Usable times (finite, 0 <= start < end, starts in order) are kept, an overlap with the next
    word trimmed; the other words share the time between their neighbours, at most
    UNTIMED_WORD_S each, right after the word before them. Nothing runs past `media_end`.
    """
    shown = [replace(w, text=" ".join(w.text.split())) for w in words if w.text.strip()]
    times: list[tuple[float, float]] = [(0.0, 0.0)] * len(shown)
    end_limit = math.inf if media_end is None else media_end
    for a, b in itertools.pairwise([-1, *_longest_ordered_run(shown), len(shown)]):
        # The next well-timed word's start (or the end of the media) bounds the words before it.
        bound = min(shown[b].start if b < len(shown) else math.inf, end_limit)
        right = None if math.isinf(bound) else bound
        if a >= 0:
            times[a] = (min(shown[a].start, bound), min(shown[a].end, bound))
        if b - a > 1:
            times[a + 1 : b] = _spread(b - a - 1, times[a][1] if a >= 0 else None, right)
    return [replace(w, start=start, end=end) for w, (start, end) in zip(shown, times, strict=True)]


def _has_usable_time(word: Word) -> bool:
    return math.isfinite(word.start) and math.isfinite(word.end) and 0 <= word.start < word.end


def _longest_ordered_run(words: Sequence[Word]) -> list[int]:
    """Indices of the longest subsequence of well-timed words whose starts never go back."""
    tails: list[float] = []  # tails[k]: the smallest last start of an ordered run of length k+1
    tail_index: list[int] = []
    parent: dict[int, int | None] = {}
    for i, word in enumerate(words):
        if not _has_usable_time(word):
            continue
        k = bisect.bisect_right(tails, word.start)
        parent[i] = tail_index[k - 1] if k else None
        if k == len(tails):
            tails.append(word.start)
            tail_index.append(i)
        else:
            tails[k], tail_index[k] = word.start, i
    run: list[int] = []
    at = tail_index[-1] if tail_index else None
    while at is not None:
        run.append(at)
        at = parent[at]
    return run[::-1]


def _spread(count: int, left: float | None, right: float | None) -> list[tuple[float, float]]:
    """Times for `count` untimed words between the end `left` and the start `right`."""
    if left is None:
        left = 0.0 if right is None else max(0.0, right - count * UNTIMED_WORD_S)
    limit = math.inf if right is None else right
    left = min(left, limit)
    slot = min(UNTIMED_WORD_S, (limit - left) / count)
    return [(min(left + m * slot, limit), min(left + (m + 1) * slot, limit)) for m in range(count)]


def split_at_long_pauses(words: Sequence[Word], rules: CaptionRules) -> list[list[Word]]:
    """Runs of words with no pause longer than `max_pause_in_cue_s`: no cue spans such a pause."""
    blocks: list[list[Word]] = []
    for word in words:
        if blocks and word.start - blocks[-1][-1].end <= rules.max_pause_in_cue_s:
            blocks[-1].append(word)
        else:
            blocks.append([word])
    return blocks


def natural_end(last_end: float, following_start: float, rules: CaptionRules) -> float:
    """Where a cue ends by itself: chained to the next across a short gap, else lingering.

    Lingering stops short of leaving a gap under `chain_gap_s`, so a gap is either 2 frames or
    clearly a gap; both are capped by `max_linger_s` after the last word.
    """
    if following_start - last_end <= rules.chain_gap_s:
        end = following_start - rules.min_gap_s
    else:
        end = min(last_end + rules.max_linger_s, following_start - rules.chain_gap_s)
    return min(end, last_end + rules.max_linger_s)


def choose_cue_breaks(
    block: Sequence[Word], penalties: Sequence[float], following_start: float, rules: CaptionRules
) -> list[tuple[int, int]]:
    """Split a pause-free run of words into cues, cheapest layout first (dynamic programming);
    each cue as a [start, end) range of `block`.

    `penalties[k]` is how badly a break between words k and k+1 reads (NEVER: no break). A cue
    must fit its lines (hard); long cues, slow reading, crowding the next cue and poor break
    points cost more (soft). `following_start` is the start of the next word after `block`.
    """
    units = _units(block, penalties)
    widths, seps = _unit_widths(block, units, rules)
    m = len(units)
    cost = [0.0] + [math.inf] * m
    back = [0] * (m + 1)
    for i in range(m):
        lines, line_len, chars = 1, 0.0, 0.0
        for j in range(i, m):
            chars += (seps[j] if j > i else 0.0) + widths[j]
            if j > i and line_len and line_len + seps[j] + widths[j] > rules.max_chars_per_line:
                lines, line_len = lines + 1, widths[j]  # greedy filling needs the fewest lines
            else:
                line_len += (seps[j] if j > i and line_len else 0.0) + widths[j]
            if lines > rules.max_lines:
                break
            a, b = units[i][0], units[j][1]
            penalty = penalties[b - 1] if b < len(block) else 0.0
            total = cost[i] + _cue_cost(block, a, b, chars, penalty, following_start, rules)
            if total < cost[j + 1]:
                cost[j + 1], back[j + 1] = total, i
    ranges: list[tuple[int, int]] = []
    j = m
    while j > 0:
        ranges.append((units[back[j]][0], units[j - 1][1]))
        j = back[j]
    return ranges[::-1]


def _units(words: Sequence[Word], penalties: Sequence[float]) -> list[tuple[int, int]]:
    """The runs of `words` no break may fall inside, as [start, end) ranges."""
    cuts = [0, *(k + 1 for k, p in enumerate(penalties) if p < NEVER), len(words)]
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]


def _unit_widths(
    words: Sequence[Word], units: Sequence[tuple[int, int]], rules: CaptionRules
) -> tuple[list[float], list[float]]:
    """Each unit's width, and the width of the space before it when it follows another."""
    space = rules.width(" ")
    widths = [rules.width(join_words(words[a:b])) for a, b in units]
    seps = [space if words[a].space_before else 0.0 for a, _ in units]
    return widths, seps


def _cue_cost(
    block: Sequence[Word],
    i: int,
    j: int,
    chars: float,
    penalty: float,
    following_start: float,
    rules: CaptionRules,
) -> float:
    first, last = block[i], block[j - 1]
    after = block[j] if j < len(block) else None
    next_start = after.start if after else following_start
    if after and after.start - last.end >= NATURAL_PAUSE_S:
        penalty = min(penalty, BREAK_AT_CLAUSE)
    cost = CUE_COST + BREAK_WEIGHT * penalty
    span = last.end - first.start
    if span > rules.max_duration_s:
        cost += OVER_MAX_DURATION_COST * (1 + span - rules.max_duration_s)
    shown_s = natural_end(last.end, next_start, rules) - first.start
    shown_s = min(max(shown_s, rules.min_duration_s), rules.max_duration_s)
    speed = chars / shown_s
    if speed > rules.max_chars_per_second:
        cost += READING_SPEED_WEIGHT * (speed / rules.max_chars_per_second - 1)
    shortfall = rules.min_duration_s + rules.min_gap_s - (next_start - first.start)
    if shortfall > 0:
        cost += CROWDING_WEIGHT * shortfall
    return cost


def time_cues(
    groups: Sequence[Sequence[Word]], rules: CaptionRules, media_end: float | None = None
) -> list[tuple[float, float]]:
    """Start and end of each cue: with its first word, ending by `natural_end` within the limits.

    The minimum duration wins over ending before the next word; the next cue then starts
    `min_gap_s` later than its first word, which is the only rule that gives way, apart from
    `media_end`, which no cue passes.
    """
    times: list[tuple[float, float]] = []
    prev_end = -math.inf
    for k, group in enumerate(groups):
        following_start = groups[k + 1][0].start if k + 1 < len(groups) else math.inf
        start = max(group[0].start, prev_end + rules.min_gap_s)
        end = min(natural_end(group[-1].end, following_start, rules), start + rules.max_duration_s)
        end = max(end, start + rules.min_duration_s)
        if media_end is not None:  # words piled at the very end may leave no time to show
            start = min(start, media_end)
            end = max(min(end, media_end), start)
        times.append((start, end))
        prev_end = end
    return times


def wrap_lines(
    words: Sequence[Word], penalties: Sequence[float], rules: CaptionRules
) -> tuple[str, ...]:
    """The words of one cue as the fewest lines that fit, balanced, broken where it reads best.

    One line when it fits; otherwise the fewest lines (dynamic programming over the allowed
    breaks, `penalties` as for `choose_cue_breaks`) with widths close to even, a bottom line
    rather longer than shorter (Netflix TTSG "pyramid"), and breaks at punctuation or before
    linking words. A run of words wider than a line stands alone on its line.
    """
    one_line = join_words(words)
    units = _units(words, penalties)
    if rules.width(one_line) <= rules.max_chars_per_line or len(units) == 1:
        return (one_line,)
    widths, seps = _unit_widths(words, units, rules)
    n_lines = lines_needed(widths, seps, rules.max_chars_per_line)
    target = (sum(widths) + sum(seps[1:]) - (n_lines - 1) * rules.width(" ")) / n_lines

    def text(a: int, b: int) -> str:
        return join_words(words[units[a][0] : units[b - 1][1]])

    def line_cost(a: int, b: int, last: bool) -> float:
        length = sum(widths[a:b]) + sum(seps[a + 1 : b])
        if length > rules.max_chars_per_line and b - a > 1:
            return math.inf
        cost = ((length - target) / 10) ** 2
        if not last:  # breaks read best at punctuation; a top line longer than the bottom less so
            cost += 0.5 * penalties[units[b][0] - 1] + 0.05 * max(0, length - target)
        return cost

    n = len(units)
    # best[k][a]: the cheapest way to lay units[a:] on k lines, and where its first line ends
    best: list[list[tuple[float, int]]] = [[(math.inf, n)] * (n + 1) for _ in range(n_lines + 1)]
    best[0][n] = (0.0, n)
    for k in range(1, n_lines + 1):
        for a in range(n - 1, -1, -1):
            ends = [n] if k == 1 else range(a + 1, n)
            best[k][a] = min(
                ((line_cost(a, b, k == 1) + best[k - 1][b][0], b) for b in ends),
                default=(math.inf, n),
            )
    lines, a = [], 0
    for k in range(n_lines, 0, -1):
        b = best[k][a][1]
        lines.append(text(a, b))
        a = b
    return tuple(lines)


def lines_needed(widths: Sequence[float], seps: Sequence[float], max_width: float) -> int:
    """The fewest lines of at most `max_width` that hold units of these widths (filling
    greedily is optimal); `seps[k]` is the space before unit k when it follows another."""
    lines, line_len = 1, 0.0
    for k, width in enumerate(widths):
        if k and line_len + seps[k] + width > max_width:
            lines, line_len = lines + 1, width
        else:
            line_len += (seps[k] if k else 0.0) + width
    return lines
