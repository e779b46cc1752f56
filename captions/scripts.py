"""Transcripts people bring: the words a track must hold, exactly as written. Pure logic.

A supplied transcript is plain text, or a WebVTT or SubRip file whose words are right and whose
times may be wrong (a re-cut video): only its words are kept. `written_words` cuts the text into
the units that get times: words between spaces in spaced writing ("£13.60," stays one word with
its punctuation); in writing without spaces (Japanese, Chinese, Thai, ...) each character, a run
of Latin letters or digits ("AI", "2014") staying whole, punctuation and combining marks kept
with the character they belong to. Joined again with `space_before`, the units spell the text as
it was written, its line breaks aside.

`match_key` is how a written word is compared with a word the model heard: case, accents'
composition and punctuation aside.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Final

from captions.cues import Cue
from captions.reading import CaptionFileError, read_caption_file
from captions.rules import CaptionRules, rules_for_language

MAX_SCRIPT_BYTES: Final = 4 * 1024 * 1024  # about 600,000 English words: days of speech
_OPENING: Final = frozenset({"Ps", "Pi"})  # ( [ « “: kept with the character after them


class ScriptError(ValueError):
    """A transcript that cannot be used: not UTF-8, a broken caption file, or no words."""


@dataclass(frozen=True)
class WrittenWord:
    """One unit of a supplied transcript: its text as written, and whether a space comes
    before it (False for the first, and between the characters of unspaced writing)."""

    text: str
    space_before: bool = True


def is_unspaced(language: str | None) -> bool:
    """Whether the language is written without spaces between words (its caption rules break
    lines between phrases or characters, not at spaces)."""
    return rules_for_language(language, CaptionRules()).phrases is not None


def script_text(data: bytes) -> str:
    """The words of a supplied transcript: plain text as it is; a WebVTT or SubRip file's cue
    texts (tags dropped), one line a cue. `ScriptError` when it cannot be read."""
    if len(data) > MAX_SCRIPT_BYTES:
        raise ScriptError(f"the transcript is over {MAX_SCRIPT_BYTES // (1024 * 1024)} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScriptError(f"the transcript is not UTF-8 text (byte {exc.start})") from None
    if _looks_timed(text):
        try:
            cues = read_caption_file(data)
        except CaptionFileError as exc:
            raise ScriptError(f"the transcript is a broken caption file: {exc}") from None
        text = "\n".join("\n".join(cue.lines) for cue in cues)
    if not text.strip():
        raise ScriptError("the transcript has no words")
    return text


def script_cues(data: bytes) -> list[Cue]:
    """The cues of a caption-file transcript (their text, lines and markup kept), for keeping
    them as they are while only their times change; `ScriptError` when it is not one."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScriptError(f"the transcript is not UTF-8 text (byte {exc.start})") from None
    if not _looks_timed(text):
        raise ScriptError("keeping cues needs a WebVTT or SubRip transcript, not plain text")
    try:
        cues = read_caption_file(data)
    except CaptionFileError as exc:
        raise ScriptError(f"the transcript is a broken caption file: {exc}") from None
    if not any(line.strip() for cue in cues for line in cue.lines):
        raise ScriptError("the transcript has no words")
    return cues


def _looks_timed(text: str) -> bool:
    """WebVTT (its signature) or SubRip (a cue number, then a line with `-->`)."""
    head = text.lstrip("\ufeff")
    if head.startswith("WEBVTT") and (len(head) == 6 or head[6] in " \t\r\n"):
        return True
    lines = [line.strip() for line in head.splitlines()[:8] if line.strip()]
    return len(lines) >= 2 and lines[0].isdigit() and "-->" in lines[1]


def written_words(text: str, language: str | None) -> list[WrittenWord]:
    """The units of `text` that get times (see the module docstring)."""
    pieces = text.split()
    if not is_unspaced(language):
        return [WrittenWord(piece, k > 0) for k, piece in enumerate(pieces)]
    units: list[WrittenWord] = []
    for line in text.splitlines():  # a line break is not a space in unspaced writing
        for k, piece in enumerate(line.split()):
            units += _unspaced_units(piece, spaced=bool(units) and k > 0)
    return units


def _unspaced_units(piece: str, *, spaced: bool) -> list[WrittenWord]:
    """One space-free piece of unspaced writing, cut into characters (see the module)."""
    units: list[str] = []
    opening = ""
    for char in piece:
        category = unicodedata.category(char)
        latin = char.isascii() and char.isalnum()
        after_latin = bool(units) and units[-1][-1:].isascii() and units[-1][-1:].isalnum()
        if category in _OPENING:
            opening += char
        elif units and not opening and (category[0] in "MP" or category == "Sk"):
            units[-1] += char  # a mark, or punctuation closing what came before
        elif not opening and latin and after_latin:
            units[-1] += char  # "AI", "2014": one unit
        else:
            units.append(opening + char)
            opening = ""
    if opening:
        if units:
            units[-1] += opening
        else:
            units.append(opening)
    return [WrittenWord(unit, spaced and k == 0) for k, unit in enumerate(units)]


def match_key(text: str) -> str:
    """What a word is compared by: NFKC, case-folded, its letters and digits only ("Don't," ->
    "dont"; "£13.60" -> "1360"). A word of symbols alone keeps them ("&")."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    key = "".join(c for c in folded if c.isalnum())
    return key or folded.strip()


def unit_keys(text: str, unspaced: bool) -> list[str]:
    """The match keys of one word the model heard: one key, or in unspaced writing one per
    character unit, so the model's tokens and the written characters compare alike."""
    if not unspaced:
        return [match_key(text)]
    return [match_key(unit.text) for unit in _unspaced_units(text, spaced=False)]
