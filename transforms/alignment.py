"""Aligning a supplied transcript to the speech: the plan and the settling. Pure.

Three stages, the model's part between the second and the third:

1. `place_words`: the written words against the words the model heard (its transcription of
   the same audio). Stretches that match (two or more words in a row, or one long word) are
   anchors: their words sit where the model heard them. Between two anchors, written words
   facing heard words are the same speech written differently ("2014" heard as "twenty
   fourteen", a name misheard): they share the heard words' time. Three or more written words
   facing no heard word are text with no speech (a sentence cut from the video): `unheard`,
   given times inside their neighbours later. Heard words facing no written word are speech
   with no text: left uncaptioned and reported (`Uncaptioned`).
2. `plan_windows`: windows of at most `MAX_WINDOW_S` of audio over the placed words, cut in
   the pauses between them and never across uncaptioned speech; the model then forces each
   window's written words onto its audio (cross-attention alignment, `transforms.whisper`).
3. `settle`: each word takes its forced time unless that strays from where it was placed;
   times run in order; unheard words are spread over the time between their neighbours.

Only text is held whole (a few MB for hours of speech); audio comes one window at a time.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Final, Literal

from captions.scripts import WrittenWord, match_key, unit_keys
from schemas.transcript import Word

MAX_WINDOW_S: Final = 29.0  # Whisper hears 30 s at a time; a little room for rounding
# Words (characters, unspaced) a window holds at most: their tokens stay well inside the
# decoder's 448 positions (a word is one to three tokens, a CJK character up to three).
MAX_WINDOW_WORDS: Final = 150
MAX_WINDOW_UNITS: Final = 120
PAD_S: Final = 0.4  # audio kept before a window's first word and after its last
UNHEARD_RUN: Final = 3  # written words with no speech facing them, from this many: no speech
STRAY_S: Final = 1.0  # a forced time this far outside where the word was placed is not taken
MAX_WORDS_PER_S: Final = 7.0  # faster than anyone speaks (fast speech: 4 to 5 words a second)
MAX_UNITS_PER_S: Final = 15.0  # characters a second in unspaced writing: faster than speech
REPORTED_WORDS, REPORTED_S = 2, 1.0  # speech without words this big is reported (a stray word
# the model put in between two written ones is not)
ANCHOR_KEY_CHARS: Final = 4  # a lone matching word this long anchors (shorter ones need company)
MATCH_WINDOW: Final = 400  # words on each side compared at a time when matching

How = Literal["matched", "heard", "unheard"]


@dataclass(frozen=True)
class Heard:
    """One unit the model heard: its match key and times, and the word it is part of (`text`;
    `first`: the word's first unit, `space_before`: as the model spaced the word)."""

    key: str
    start: float
    end: float
    text: str
    first: bool = True
    space_before: bool = True


@dataclass(frozen=True)
class Placed:
    """A written word and where the transcription puts it."""

    word: WrittenWord
    start: float
    end: float
    how: How
    cut_after: bool = False  # uncaptioned speech follows: no window spans it


@dataclass(frozen=True)
class Uncaptioned:
    """Speech the transcript has no words for: when, and what the model heard there."""

    start: float
    end: float
    heard: str

    def to_dict(self) -> dict[str, object]:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "heard": self.heard}


@dataclass(frozen=True)
class Window:
    """A stretch of audio and the written words (their indices) forced onto it."""

    start: float
    end: float
    words: tuple[int, ...]


def limits(unspaced: bool) -> tuple[float, int]:
    """(the most words a second anyone says, the most words a window holds), counted in
    characters for writing without spaces."""
    if unspaced:
        return MAX_UNITS_PER_S, MAX_WINDOW_UNITS
    return MAX_WORDS_PER_S, MAX_WINDOW_WORDS


def heard_units(words: Sequence[Word], unspaced: bool) -> list[Heard]:
    """The model's words as match units: one a word, or in unspaced writing one a character,
    each character taking its share of the word's time."""
    units: list[Heard] = []
    for word in words:
        keys = unit_keys(word.text, unspaced)
        step = (word.end - word.start) / len(keys)
        for k, key in enumerate(keys):
            start = word.start + k * step
            units.append(Heard(key, start, start + step, word.text, k == 0, word.space_before))
    return units


def heard_text(units: Sequence[Heard]) -> str:
    """What the model heard over `units`, its words spaced as it spaced them."""
    out = ""
    for unit in units:
        if unit.first:
            out += (" " if out and unit.space_before else "") + unit.text
    return out


def place_words(
    written: Sequence[WrittenWord],
    heard: Sequence[Heard],
    duration_s: float,
    max_rate: float = MAX_WORDS_PER_S,
) -> tuple[list[Placed], list[Uncaptioned]]:
    """Every written word placed in time (see the module docstring), and the speech left
    without words. `max_rate`: the most words (units) a second anyone says: written words
    that would have to be said faster to fit where they are placed have no speech there."""
    keys = [match_key(w.text) for w in written]
    pairs = _anchors(keys, [h.key for h in heard])
    placed: list[Placed] = []
    uncaptioned: list[Uncaptioned] = []
    prev_i, prev_j = -1, -1
    for i, j in [*pairs, (len(written), len(heard))]:
        lo = heard[prev_j].end if prev_j >= 0 else 0.0
        hi = heard[j].start if j < len(heard) else max(duration_s, lo)
        run = written[prev_i + 1 : i]
        facing = heard[prev_j + 1 : j]
        if facing and not run:
            uncaptioned += _reported(facing)
            if placed:
                placed[-1] = _with_cut(placed[-1])
        elif facing and len(run) > _room(facing[0].start, facing[-1].end, max_rate):
            # more words than the speech facing them could hold: the text has no speech here
            # (a stray phrase the model heard, say "Thank you" where the recording stops)
            uncaptioned += _reported(facing)
            placed += _spread(run, lo, max(lo, hi), "unheard")
        elif facing:
            placed += _spread(run, facing[0].start, facing[-1].end, "heard")
        elif run:
            how: How = "unheard" if len(run) >= UNHEARD_RUN else "heard"
            placed += _spread(run, lo, max(lo, hi), how)
        if i < len(written):
            placed.append(Placed(written[i], heard[j].start, heard[j].end, "matched"))
        prev_i, prev_j = i, j
    return placed, uncaptioned


def _reported(facing: Sequence[Heard]) -> list[Uncaptioned]:
    """Speech without words, as a report; none for a stray word (two words or a second at
    least are reported)."""
    words = sum(h.first for h in facing)
    if words < REPORTED_WORDS and facing[-1].end - facing[0].start < REPORTED_S:
        return []
    return [Uncaptioned(facing[0].start, facing[-1].end, heard_text(facing))]


def _room(start: float, end: float, max_rate: float) -> float:
    """How many words at most fit between `start` and `end` (a few always do)."""
    return max_rate * max(0.0, end - start) + UNHEARD_RUN


def _with_cut(word: Placed) -> Placed:
    return Placed(word.word, word.start, word.end, word.how, True)


def _spread(run: Sequence[WrittenWord], start: float, end: float, how: How) -> list[Placed]:
    """Words over [start, end] in proportion to their length."""
    weights = [len(match_key(w.text)) + 1 for w in run]
    total = sum(weights)
    out, at = [], start
    for word, weight in zip(run, weights, strict=True):
        step = (end - start) * weight / total
        out.append(Placed(word, at, at + step, how))
        at += step
    return out


def _anchors(written: Sequence[str], heard: Sequence[str]) -> list[tuple[int, int]]:
    """Pairs (written index, heard index) that match confidently, in order in both."""
    pairs = _matches(written, heard)
    confident = []
    for k, (i, j) in enumerate(pairs):
        before = k > 0 and pairs[k - 1] == (i - 1, j - 1)
        after = k + 1 < len(pairs) and pairs[k + 1] == (i + 1, j + 1)
        if before or after or len(written[i]) >= ANCHOR_KEY_CHARS:
            confident.append((i, j))
    return confident


def _matches(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int]]:
    """Matching pairs of `a` and `b`, found by a sweep of windows along both: each window's
    matches in its first half are kept and the sweep goes on after the last of them, so the
    work grows with the length and a phrase repeated far away is never taken for this one.
    A window with no run of two matching words grows (text with no speech, or speech with no
    text, lies ahead) until it finds one or takes in the rest."""
    pairs: list[tuple[int, int]] = []
    i = j = 0
    size = MATCH_WINDOW
    while i < len(a) and j < len(b):
        a1, b1 = min(len(a), i + size), min(len(b), j + size)
        matcher = SequenceMatcher(None, a[i:a1], b[j:b1], autojunk=False)
        blocks = [m for m in matcher.get_matching_blocks() if m.size]
        runs = [m for m in blocks if m.size >= 2]
        whole = a1 == len(a) and b1 == len(b)
        if not runs and not whole:
            size *= 2  # look further ahead on both sides
            continue
        half = size // 2
        kept = [m for m in blocks if whole or m.a < half or (runs and m is runs[0])]
        if not kept:
            break
        for m in kept:
            pairs += [(i + m.a + n, j + m.b + n) for n in range(m.size)]
        last_a, last_b = pairs[-1]
        i, j = last_a + 1, last_b + 1
        size = MATCH_WINDOW
        if whole:
            break
    return pairs


def is_mark(word: WrittenWord) -> bool:
    """A written word of punctuation alone ("—", "..."): not said, so never forced; it sits
    at the end of the word before it."""
    return not any(c.isalnum() for c in word.text) and all(
        unicodedata.category(c)[0] in "PZ" for c in word.text
    )


def plan_windows(
    placed: Sequence[Placed], duration_s: float, max_words: int = MAX_WINDOW_WORDS
) -> list[Window]:
    """Windows of audio over the placed words that are heard (see the module docstring), each
    with at most `max_words` words."""
    spoken = [k for k, p in enumerate(placed) if p.how != "unheard" and not is_mark(p.word)]
    windows: list[Window] = []
    group: list[int] = []

    def close(group: list[int], next_start: float | None) -> None:
        first, last = placed[group[0]], placed[group[-1]]
        start = max(0.0, first.start - PAD_S)
        if windows:
            start = max(start, min(windows[-1].end, first.start))
        end = min(duration_s, last.end + PAD_S) if duration_s > 0 else last.end + PAD_S
        if next_start is not None and not last.cut_after:
            end = min(end, max(last.end, (last.end + next_start) / 2))
        if last.cut_after:
            end = last.end + min(PAD_S, 0.1)
        end = max(end, start + 0.1)
        windows.append(Window(start, min(end, start + MAX_WINDOW_S + 2 * PAD_S), tuple(group)))

    for k in spoken:
        word = placed[k]
        if group:
            first = placed[group[0]]
            too_long = word.end + PAD_S - max(0.0, first.start - PAD_S) > MAX_WINDOW_S
            if too_long or len(group) >= max_words or placed[group[-1]].cut_after:
                keep = _best_cut(placed, group) if not placed[group[-1]].cut_after else len(group)
                head, tail = group[:keep], group[keep:]
                close(head, placed[(tail or [k])[0]].start)
                group = tail
        group.append(k)
    if group:
        close(group, None)
    return windows


def _best_cut(placed: Sequence[Placed], group: list[int]) -> int:
    """Where to end a full window: at the longest pause in its last half (words before it)."""
    best, best_gap = len(group), -1.0
    for m in range(max(1, len(group) // 2), len(group)):
        gap = placed[group[m]].start - placed[group[m - 1]].end
        if gap > best_gap:
            best, best_gap = m, gap
    return best


def settle(
    placed: Sequence[Placed],
    forced: dict[int, tuple[float, float, float]],
    duration_s: float,
) -> tuple[list[Word], int, int]:
    """The written words with their times: (words, placed by alignment, interpolated).

    A forced time (start, end, probability) is taken unless it strays more than `STRAY_S`
    from a matched word's place; the words not forced keep their place; times are then made
    to run in order; unheard words share the time between their neighbours."""
    times: list[tuple[float, float, float] | None] = []
    for k, p in enumerate(placed):
        if p.how == "unheard":
            times.append(None)
            continue
        if is_mark(p.word):
            prev = next((t for t in reversed(times) if t is not None), None)
            at = prev[1] if prev is not None else p.start
            times.append((at, at, 0.0))
            continue
        got = forced.get(k)
        strays = got is not None and not p.start - STRAY_S <= got[0] <= p.end + STRAY_S
        if p.how == "matched" and strays:
            got = None
        times.append(got if got is not None else (p.start, p.end, 0.0))
    # in order: each start at or after the one before, each end at or before the next start
    last = 0.0
    for k, t in enumerate(times):
        if t is not None:
            start = max(t[0], last)
            times[k] = (start, max(start, t[1]), t[2])
            last = start
    following: float | None = None
    for k in range(len(times) - 1, -1, -1):
        t = times[k]
        if t is not None:
            end = min(t[1], following) if following is not None else t[1]
            times[k] = (t[0], max(t[0], end), t[2])
            following = t[0]
    words: list[Word] = []
    interpolated = 0
    k = 0
    while k < len(placed):
        t = times[k]
        if t is not None:
            words.append(_word(placed[k].word, t))
            k += 1
            continue
        run_end = k
        while run_end < len(placed) and times[run_end] is None:
            run_end += 1
        lo = words[-1].end if words else 0.0
        after = times[run_end] if run_end < len(placed) else None
        hi = after[0] if after is not None else max(lo, duration_s)
        spread = _spread([p.word for p in placed[k:run_end]], lo, max(lo, hi), "unheard")
        words += [_word(s.word, (s.start, s.end, 0.0)) for s in spread]
        interpolated += run_end - k
        k = run_end
    return words, len(placed) - interpolated, interpolated


def _word(written: WrittenWord, t: tuple[float, float, float]) -> Word:
    return Word(written.text, t[0], t[1], t[2], space_before=written.space_before)
