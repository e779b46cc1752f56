"""Where a caption may break between two words, how badly it reads there, and how wide text is.

Pure logic, no Beam. Two kinds of writing:

- Spaced (English, French, Korean, ...): a break falls where the model put a space, never
  between words it wrote together ("m" + "'appelle", "non" + "-dit"); sentence ends read best,
  then clause marks, then before a linking word, never after one (Netflix TTSG "Line
  treatment", BBC "Line breaks").
- Written without spaces (Japanese, Chinese, Thai): a break falls between phrases as BudouX
  finds them (Google's phrase segmenter for line breaking; for Japanese these are bunsetsu,
  which read faster than arbitrary cuts), never inside one, so never inside a word the model
  produced, and never against the Japanese line-start and line-end rules (JIS X 4051 kinsoku:
  no line starts with a closing bracket, a small kana or a full stop).

Widths follow the Netflix guides: a full-width character (CJK ideographs, kana, full-width
forms) counts 1, a half-width one `half_width_weight` (0.5 in the Japanese, Chinese and Korean
guides, 1 elsewhere); combining marks (Thai vowels and tone marks, accents) take no width.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from schemas.transcript import Word

# Break penalties, best first.
BREAK_AT_SENTENCE_END = 0.0
BREAK_AT_CLAUSE = 1.0
BREAK_BEFORE_LINKING_WORD = 2.0
BREAK_ANYWHERE_ELSE = 4.0
BREAK_AFTER_LINKING_WORD = 6.0  # never leave "the", "to", "and" hanging at a line's end
NEVER = math.inf  # inside a written word or phrase, or against kinsoku

# Closing quotes and brackets may follow the mark, also the CJK corner brackets.
_CLOSERS = "\"'\u201d\u2019\u00bb)\\]\u300d\u300f\uff09"
# Full stops, also the ideographic and full-width ones of Chinese and Japanese.
SENTENCE_END = re.compile(f"[.!?\u2026\u3002\uff01\uff1f][{_CLOSERS}]*$")
# Clause marks: also en and em dashes, and the ideographic and full-width commas.
CLAUSE_END = re.compile(f"[,;:\u2013\u2014\u3001\uff0c\uff1b\uff1a][{_CLOSERS}]*$")
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

# JIS X 4051 (kinsoku shori), as the Netflix Japanese guide applies it: characters that never
# start a line, and characters that never end one.
NO_LINE_START = frozenset(
    ")]}\u3015\u3009\u300b\u300d\u300f\u3011\uff09\uff3d\uff5d"  # closing brackets
    "\u3041\u3043\u3045\u3047\u3049\u3063\u3083\u3085\u3087\u308e"  # small hiragana
    "\u30a1\u30a3\u30a5\u30a7\u30a9\u30c3\u30e3\u30e5\u30e7\u30ee\u30f5\u30f6"  # small katakana
    "\u30fc\u30fd\u30fe\u309d\u309e\u3005"  # long vowel mark, iteration marks
    "?!\uff1f\uff01\u30fb:;\uff1a\uff1b\u3002.\u3001,\uff0c\u2026\u2025"  # stops, commas, ...
)
NO_LINE_END = frozenset("([{\u3014\u3008\u300a\u300c\u300e\u3010\uff08\uff3b\uff5b")

# BudouX models by the phrase segmenter names CaptionRules uses.
_BUDOUX = {
    "ja": "load_default_japanese_parser",
    "zh-hans": "load_default_simplified_chinese_parser",
    "zh-hant": "load_default_traditional_chinese_parser",
    "th": "load_default_thai_parser",
}
UNSPACED_ANYWHERE = "chars"  # written without spaces, no segmenter: break between any words
PHRASE_SEGMENTERS = (*_BUDOUX, UNSPACED_ANYWHERE)


def char_width(char: str, half_width_weight: float = 1.0) -> float:
    """How much of a line one character takes (see the module docstring)."""
    category = unicodedata.category(char)
    if unicodedata.combining(char) or category in ("Mn", "Me", "Cf"):
        return 0.0
    if category == "Cn":  # unassigned: Python's table calls some of them full width
        return half_width_weight
    return 1.0 if unicodedata.east_asian_width(char) in ("F", "W") else half_width_weight


def text_width(text: str, half_width_weight: float = 1.0) -> float:
    """The width of `text` on a line; `len(text)` for plain Latin text at weight 1."""
    if half_width_weight == 1.0 and text.isascii():
        return float(len(text))
    return sum(char_width(c, half_width_weight) for c in text)


def break_penalties(words: Sequence[Word], phrases: str | None = None) -> list[float]:
    """For each pair of neighbours in `words`, how badly a break between them reads; NEVER
    where no break may fall. `phrases`: None for spaced writing, else a name from
    PHRASE_SEGMENTERS. One entry fewer than `words`."""
    if phrases is None:
        return [
            spaced_penalty(before.text, after.text) if after.space_before else NEVER
            for before, after in itertools.pairwise(words)
        ]
    starts = _phrase_starts(words, phrases)
    out = []
    for k, (before, after) in enumerate(itertools.pairwise(words)):
        if _kinsoku_forbids(before.text, after.text):
            out.append(NEVER)
        elif after.space_before or (k + 1) in starts:
            out.append(_punctuation_penalty(before.text))
        else:
            out.append(NEVER)
    return out


def spaced_penalty(before: str, after: str | None) -> float:
    """How badly a break between the spaced words `before` and `after` reads."""
    by_punctuation = _punctuation_penalty(before)
    if after is None or by_punctuation < BREAK_ANYWHERE_ELSE:
        return BREAK_AT_SENTENCE_END if after is None else by_punctuation
    if _bare(before) in LINKING_WORDS:
        return BREAK_AFTER_LINKING_WORD
    if _bare(after) in LINKING_WORDS:
        return BREAK_BEFORE_LINKING_WORD
    return BREAK_ANYWHERE_ELSE


def _punctuation_penalty(before: str) -> float:
    if SENTENCE_END.search(before):
        return BREAK_AT_SENTENCE_END
    if CLAUSE_END.search(before):
        return BREAK_AT_CLAUSE
    return BREAK_ANYWHERE_ELSE


def _kinsoku_forbids(before: str, after: str) -> bool:
    starts_badly = bool(after) and after[0] in NO_LINE_START
    return starts_badly or (bool(before) and before[-1] in NO_LINE_END)


def _bare(text: str) -> str:
    return text.lower().strip(
        "\"'()[]\u00bf\u00a1.,;:!?\u2026-\u2013\u2014\u201c\u201d\u2018\u2019\u00ab\u00bb"
    )


def _phrase_starts(words: Sequence[Word], phrases: str) -> set[int]:
    """Indices of the words that begin a phrase (a word may hold several phrases, or part)."""
    if phrases == UNSPACED_ANYWHERE:
        return set(range(len(words)))
    offsets, spaced, text = [], [], ""
    for k, word in enumerate(words):
        spaced.append(bool(k) and word.space_before)
        if spaced[-1]:
            text += " "
        offsets.append(len(text))
        text += word.text
    boundaries, at = set(), 0
    for phrase in _parser(phrases).parse(text):
        at += len(phrase)
        boundaries.add(at)
    # A word starts a phrase when a phrase boundary falls right before it (or before the space
    # in front of it).
    return {
        k for k, o in enumerate(offsets) if o in boundaries or (spaced[k] and o - 1 in boundaries)
    }


@functools.cache
def _parser(name: str) -> Any:
    import budoux  # loaded only for languages that need it

    return getattr(budoux, _BUDOUX[name])()
