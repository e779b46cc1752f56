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
less than `min_duration_s` before the end is shorter (a player shows nothing after the end).

Words the model gave no usable time (numbers and symbols often get none: NaN, zero length, end
before start, out of order) keep their place and get times interpolated from their neighbours.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from schemas.transcript import Word


@dataclass(frozen=True)
class CaptionRules:
    """The caption style; every default comes from a broadcast style guide."""

    # Netflix TTSG "Characters per line: 42"; BBC allows 37-42 characters.
    max_chars_per_line: int = 42
    # Netflix TTSG "Maximum of 2 lines"; DCMP: "no more than two lines".
    max_lines: int = 2
    # Netflix TTSG "Minimum duration: 5/6 of a second per subtitle event".
    min_duration_s: float = 5 / 6
    # Netflix TTSG "Maximum duration: 7 seconds per subtitle event".
    max_duration_s: float = 7.0
    # Netflix TTSG Timing: at least 2 frames between subtitle events (2 frames at 24 fps).
    min_gap_s: float = 2 / 24
    # Netflix TTSG Timing: gaps under 12 frames (about 0.5 s) close to 2 frames ("chaining").
    chain_gap_s: float = 0.5
    # Netflix TTSG "Reading speed: up to 17 characters per second" (adult programs).
    max_chars_per_second: float = 17.0
    # BBC Timing: do not run a subtitle across a long pause; DCMP: captions in sync with speech.
    max_pause_in_cue_s: float = 1.5
    # BBC Timing: subtitles should not linger after the speech (DCMP: caption in sync with audio).
    max_linger_s: float = 0.5

    def __post_init__(self) -> None:
        if self.max_chars_per_line < 1 or self.max_lines < 1:
            raise ValueError("a cue needs at least one line of at least one character")
        if not 0 < self.min_duration_s <= self.max_duration_s or self.min_gap_s < 0:
            raise ValueError("need 0 < min_duration_s <= max_duration_s and min_gap_s >= 0")


@dataclass(frozen=True)
class Cue:
    """One caption on screen: its times in seconds, its lines, and the words it shows in order."""

    start: float
    end: float
    lines: tuple[str, ...]
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


# Where a cue or a line breaks, best first (Netflix TTSG "Line treatment"; BBC "Line breaks").
BREAK_AT_SENTENCE_END = 0.0
BREAK_AT_CLAUSE = 1.0
BREAK_BEFORE_LINKING_WORD = 2.0
BREAK_ANYWHERE_ELSE = 4.0
BREAK_AFTER_LINKING_WORD = 6.0  # never leave "the", "to", "and" hanging at a line's end

_CLOSERS = "\"'\u201d\u2019\u00bb)\\]"  # closing quotes and brackets may follow the mark
SENTENCE_END = re.compile(f"[.!?\u2026][{_CLOSERS}]*$")
CLAUSE_END = re.compile(f"[,;:\u2013\u2014][{_CLOSERS}]*$")  # also en and em dashes
CONJUNCTIONS = frozenset(
    "and but or nor so yet because although though while whereas if"  # noqa: SIM905
    " unless until when whenever where whether than that which who whom whose".split()
)
PREPOSITIONS = frozenset(
    "to of in on at for with from by about as into onto over under"  # noqa: SIM905
    " after before since through between against during without within upon".split()
)
ARTICLES = frozenset({"a", "an", "the"})
LINKING_WORDS = CONJUNCTIONS | PREPOSITIONS | ARTICLES
NATURAL_PAUSE_S = 0.3  # a pause this long between words breaks as well as a comma does

UNTIMED_WORD_S = 0.3  # the most time an interpolated word gets

# Weights of the cue-break search: a cue costs CUE_COST, its break costs BREAK_WEIGHT x penalty.
CUE_COST = 3.0
BREAK_WEIGHT = 2.0
OVER_MAX_DURATION_COST = 100.0
READING_SPEED_WEIGHT = 8.0
CROWDING_WEIGHT = 20.0  # a cue too short for the next to start on time delays the next one


def layout_cues(
    words: Sequence[Word], rules: CaptionRules = CaptionRules(), media_end: float | None = None
) -> list[Cue]:
    """Lay out timed words (in spoken order) as caption cues under `rules`, in time order.

    `media_end`, the media's duration in seconds, bounds every word and cue when given.
    """
    timed = repair_word_times(words, media_end)
    groups: list[list[Word]] = []
    blocks = split_at_long_pauses(timed, rules)
    for k, block in enumerate(blocks):
        following_start = blocks[k + 1][0].start if k + 1 < len(blocks) else math.inf
        groups.extend(choose_cue_breaks(block, following_start, rules))
    times = time_cues(groups, rules, media_end)
    return [
        Cue(start, end, wrap_lines([w.text for w in group], rules), tuple(group))
        for group, (start, end) in zip(groups, times, strict=True)
    ]


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


def break_penalty(before: str, after: str | None) -> float:
    """How bad a cue or line break between the words `before` and `after` reads."""
    if after is None or SENTENCE_END.search(before):
        return BREAK_AT_SENTENCE_END
    if CLAUSE_END.search(before):
        return BREAK_AT_CLAUSE
    if _bare(before) in LINKING_WORDS:
        return BREAK_AFTER_LINKING_WORD
    if _bare(after) in LINKING_WORDS:
        return BREAK_BEFORE_LINKING_WORD
    return BREAK_ANYWHERE_ELSE


def _bare(text: str) -> str:
    return text.lower().strip(
        "\"'()[]\u00bf\u00a1.,;:!?\u2026-\u2013\u2014\u201c\u201d\u2018\u2019\u00ab\u00bb"
    )


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
    block: Sequence[Word], following_start: float, rules: CaptionRules
) -> list[list[Word]]:
    """Split a pause-free run of words into cues, cheapest layout first (dynamic programming).

    A cue must fit its lines (hard); long cues, slow reading, crowding the next cue and poor
    break points cost more (soft). `following_start` is the start of the next word after `block`.
    """
    n = len(block)
    cost = [0.0] + [math.inf] * n
    back = [0] * (n + 1)
    for i in range(n):
        lines, line_len, chars = 1, 0, -1
        for j in range(i, n):
            width = len(block[j].text)
            chars += 1 + width
            if line_len and line_len + 1 + width > rules.max_chars_per_line:
                lines, line_len = lines + 1, width  # greedy filling needs the fewest lines
            else:
                line_len += (1 if line_len else 0) + width
            if lines > rules.max_lines:
                break
            total = cost[i] + _cue_cost(block, i, j + 1, chars, following_start, rules)
            if total < cost[j + 1]:
                cost[j + 1], back[j + 1] = total, i
    groups: list[list[Word]] = []
    j = n
    while j > 0:
        groups.append(list(block[back[j] : j]))
        j = back[j]
    return groups[::-1]


def _cue_cost(
    block: Sequence[Word], i: int, j: int, chars: int, following_start: float, rules: CaptionRules
) -> float:
    first, last = block[i], block[j - 1]
    after = block[j] if j < len(block) else None
    next_start = after.start if after else following_start
    penalty = break_penalty(last.text, after.text if after else None)
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


def wrap_lines(texts: Sequence[str], rules: CaptionRules) -> tuple[str, ...]:
    """The words of one cue as the fewest lines that fit, balanced, broken where it reads best.

    One line when it fits; otherwise the fewest lines (dynamic programming over the breaks) with
    lengths close to even, a bottom line rather longer than shorter (Netflix TTSG "pyramid"), and
    breaks at punctuation or before linking words. A word longer than a line stands alone.
    """
    one_line = " ".join(texts)
    if len(one_line) <= rules.max_chars_per_line or len(texts) == 1:
        return (one_line,)
    n_lines = lines_needed(texts, rules.max_chars_per_line)
    target = (len(one_line) - (n_lines - 1)) / n_lines

    def line_cost(a: int, b: int, last: bool) -> float:
        length = len(" ".join(texts[a:b]))
        if length > rules.max_chars_per_line and b - a > 1:
            return math.inf
        cost = ((length - target) / 10) ** 2
        if not last:  # breaks read best at punctuation; a top line longer than the bottom less so
            cost += 0.5 * break_penalty(texts[b - 1], texts[b]) + 0.05 * max(0, length - target)
        return cost

    n = len(texts)
    # best[k][a]: the cheapest way to lay texts[a:] on k lines, and where its first line ends
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
        lines.append(" ".join(texts[a:b]))
        a = b
    return tuple(lines)


def lines_needed(texts: Sequence[str], max_chars: int) -> int:
    """The fewest lines of at most `max_chars` that hold `texts` (filling greedily is optimal)."""
    lines, line_len = 1, 0
    for text in texts:
        if line_len and line_len + 1 + len(text) > max_chars:
            lines, line_len = lines + 1, len(text)
        else:
            line_len += (1 if line_len else 0) + len(text)
    return lines
