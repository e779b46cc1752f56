"""Subtitles in another language, kept in sync: the text logic of translation. Pure.

    words (timed) -> sentences_of -> Sentence(start, end, text)   (never a cue's fragment)
    each sentence's translation -> layout_translation -> cues inside the sentence's time span

A translator sees whole sentences, so its grammar holds; each translation is then laid out as
cues under the target language's caption rules, inside the time its source sentence was spoken,
cut at the target's clause and phrase boundaries and timed in proportion to its text. A
translation that needs more time than its sentence took to say (translations run 10-30 % longer
than English) borrows from the silence around it, never from a neighbouring sentence; what
still breaks a rule stays, and the editor shows it as a warning (`captions.checks`).

Names and terms of an upload's vocabulary are kept as written: `protect_terms` swaps each for a
placeholder the models copy through untouched, `restore_terms` puts it back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from captions.cues import Cue, layout_cues
from captions.line_breaks import SENTENCE_END
from captions.rules import CaptionRules, primary_language
from schemas.transcript import Word, join_words

# A pause this long ends a sentence even without punctuation (Whisper leaves some out).
SENTENCE_PAUSE_S: Final = 1.5
# A sentence longer than this (in words) is cut at its last clause mark before the limit, or at
# the limit: a translator given a run-on paragraph drifts, and its span gets too coarse.
MAX_SENTENCE_WORDS: Final = 45
# How far a translation may start before its sentence is heard (a lead-in viewers accept).
LEAD_IN_S: Final = 0.5
# How far after its sentence ends it may stay, at most (besides the gap before the next one).
MAX_BORROW_AFTER_S: Final = 1.5

_ABBREVIATIONS: Final = frozenset(
    {"mr.", "mrs.", "ms.", "dr.", "st.", "vs.", "etc.", "e.g.", "i.e.", "prof.", "sr.", "jr."}
    | {"sra.", "sr.", "dra.", "p.ex."}
)
_CLAUSE_MARK: Final = re.compile(r"[,;:\u2013\u2014\u3001\uff0c\uff1b\uff1a]$")
# Languages written without spaces between words: a translation into one is cut by character.
UNSPACED: Final = frozenset({"ja", "zh", "yue", "th", "lo", "km", "my", "bo"})


@dataclass(frozen=True)
class Sentence:
    """One sentence of the source: when it was spoken, and its text."""

    start: float
    end: float
    text: str


def sentences_of(words: Sequence[Word]) -> list[Sentence]:
    """The sentences of timed words, in order: ended by sentence punctuation (not after a known
    abbreviation), by a pause of `SENTENCE_PAUSE_S`, or cut when longer than
    `MAX_SENTENCE_WORDS` (at the last clause mark, when there is one)."""
    sentences: list[Sentence] = []
    run: list[Word] = []
    for k, word in enumerate(words):
        if not word.text.strip():
            continue
        if run and word.start - run[-1].end >= SENTENCE_PAUSE_S:
            sentences.append(_sentence(run))
            run = []
        run.append(word)
        following = words[k + 1] if k + 1 < len(words) else None
        if _ends_sentence(word, following):
            sentences.append(_sentence(run))
            run = []
        elif len(run) >= MAX_SENTENCE_WORDS:
            cut = _last_clause_mark(run) or len(run)
            sentences.append(_sentence(run[:cut]))
            run = run[cut:]
    if run:
        sentences.append(_sentence(run))
    return sentences


def _ends_sentence(word: Word, following: Word | None) -> bool:
    if not SENTENCE_END.search(word.text):
        return False
    if word.text.lower() in _ABBREVIATIONS:
        return False
    # a lower-case word right after a period in a spaced language ("approx. ten") does not
    # start a new sentence
    return not (
        following is not None
        and following.space_before
        and word.text.endswith(".")
        and following.text[:1].islower()
    )


def _last_clause_mark(run: Sequence[Word]) -> int | None:
    for k in range(len(run) - 1, 0, -1):
        if _CLAUSE_MARK.search(run[k - 1].text):
            return k
    return None


def _sentence(run: Sequence[Word]) -> Sentence:
    return Sentence(run[0].start, run[-1].end, join_words(run))


def words_of_cues(cues: Sequence[Cue], language: str | None) -> list[Word]:
    """The words of cues that carry none with times (a track read back from storage): each
    cue's text cut into words, timed in proportion to their length within the cue."""
    words: list[Word] = []
    for cue in cues:
        text = " ".join(line.strip() for line in cue.lines if line.strip())
        words += timed_words(text, language, cue.start, cue.end)
    return words


def timed_words(text: str, language: str | None, start: float, end: float) -> list[Word]:
    """`text` as words spread over [start, end] in proportion to their length (a character
    each in a language written without spaces)."""
    if primary_language(language) in UNSPACED:
        tokens = [(c, k > 0 and text[k - 1] == " ") for k, c in enumerate(text) if c != " "]
    else:
        tokens = [(t, True) for t in text.split()]
    if not tokens:
        return []
    weights = [len(t) + 1 for t, _ in tokens]
    per = (end - start) / sum(weights)
    words, at = [], start
    for (token, spaced), weight in zip(tokens, weights, strict=True):
        words.append(Word(token, at, at + per * weight, space_before=spaced))
        at += per * weight
    return words


def layout_translation(
    sentences: Sequence[Sentence],
    translations: Sequence[str],
    rules: CaptionRules,
    language: str | None,
    media_end: float | None = None,
) -> list[Cue]:
    """The cues of translated sentences: each translation inside its sentence's span (see the
    module docstring), under `rules` (the target language's). A sentence whose translation is
    empty shows nothing."""
    cues: list[Cue] = []
    for start, end, text in sentence_spans(sentences, translations, rules, media_end):
        words = timed_words(text, language, start, end)
        if words:
            cues += [_within(c, start, end) for c in layout_cues(words, rules, end)]
    return cues


def sentence_spans(
    sentences: Sequence[Sentence],
    translations: Sequence[str],
    rules: CaptionRules,
    media_end: float | None = None,
) -> list[tuple[float, float, str]]:
    """Where each translation is shown: its sentence's span, lengthened into the silence
    around it (after first, then before) until it can be read at the rules' reading speed,
    never closer to a neighbouring sentence than the minimum gap."""
    if len(sentences) != len(translations):
        raise ValueError(f"{len(sentences)} sentences but {len(translations)} translations")
    spans: list[tuple[float, float, str]] = []
    floor = 0.0
    for k, (sentence, text) in enumerate(zip(sentences, translations, strict=True)):
        text = " ".join(text.split())
        if not text:
            continue
        following = sentences[k + 1].start if k + 1 < len(sentences) else None
        ceiling = sentence.end + MAX_BORROW_AFTER_S
        if following is not None:
            ceiling = min(ceiling, max(following - rules.min_gap_s, sentence.end))
        if media_end is not None:
            ceiling = min(ceiling, media_end)
        start, end = max(sentence.start, floor), max(sentence.end, floor)
        needed = max(rules.width(text) / rules.max_chars_per_second, rules.min_duration_s)
        if end - start < needed:
            end = max(end, min(ceiling, start + needed))
        if end - start < needed:
            start = max(floor, sentence.start - LEAD_IN_S, end - needed)
        end = max(end, start + 1e-3)
        spans.append((start, end, text))
        floor = end + rules.min_gap_s
    return spans


def _within(cue: Cue, start: float, end: float) -> Cue:
    """A cue kept inside its sentence's span (layout may let the last one linger past it)."""
    if cue.start >= start and cue.end <= end:
        return cue
    cue_start = min(max(cue.start, start), end)
    return Cue(cue_start, max(min(cue.end, end), cue_start), cue.lines, cue.words, cue.markup)


# ---- vocabulary kept as written -------------------------------------------------------------

# Placeholders the tested models copy through as a name ("ZXQ1 faz legendas ...").
_PLACEHOLDER: Final = "ZXQ{}"
_PLACEHOLDER_RE: Final = re.compile(r"ZXQ(\d+)", re.IGNORECASE)


def glossary_terms(hotwords: str | None) -> tuple[str, ...]:
    """The terms of an upload's vocabulary ("ComfyUI, Kubernetes"): split at commas,
    semicolons and line breaks, or at spaces when it has none of those; longest first."""
    if not hotwords:
        return ()
    parts = re.split(r"[,;\n]", hotwords) if re.search(r"[,;\n]", hotwords) else hotwords.split()
    terms = {p.strip() for p in parts if len(p.strip()) >= 2}
    return tuple(sorted(terms, key=lambda t: (-len(t), t)))


def protect_terms(text: str, terms: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """`text` with each glossary term it holds (as a whole word, in any case) swapped for a
    placeholder; the terms in placeholder order."""
    found: list[str] = []
    for term in terms:
        pattern = re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)
        if pattern.search(text):
            text = pattern.sub(_PLACEHOLDER.format(len(found) + 1), text)
            found.append(term)
    return text, tuple(found)


def restore_terms(translated: str, terms: Sequence[str]) -> str | None:
    """The translation with each placeholder back as its term, written as in the glossary;
    None when the translator lost or invented one (translate the sentence unprotected then)."""
    seen = [int(n) for n in _PLACEHOLDER_RE.findall(translated)]
    if sorted(set(seen)) != list(range(1, len(terms) + 1)):
        return None
    return _PLACEHOLDER_RE.sub(lambda m: terms[int(m.group(1)) - 1], translated)
