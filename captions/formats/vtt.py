"""WebVTT (W3C WebVTT Recommendation), as the W3C's own validator accepts it: the `WEBVTT`
signature line, then a blank line, then blocks. The track's language travels in a NOTE (header
metadata lines such as `Language:` are not part of the recommendation)."""

from __future__ import annotations

from collections.abc import Sequence

from captions.cues import Cue
from captions.formats.shown import clock_time, line_mark, shown_cues
from captions.markup import vtt_text


def write_vtt(cues: Sequence[Cue], language: str | None = None, notes: Sequence[str] = ()) -> str:
    """A WebVTT file: the signature, a NOTE naming the language (if given), the `notes` (each
    a NOTE block's text, such as a revision's), then one block per cue.

    `&`, `<` and `>` in the text are escaped, so words like "R&D" or "-->" cannot break the file;
    a person's markup (italics, voices, ...) is written as its tags."""
    language = " ".join((language or "").split())  # one line, whatever the caller passed
    blocks = ["WEBVTT\n"]
    if language:
        blocks.append(f"NOTE language={language}\n")
    blocks += (note if note.endswith("\n") else note + "\n" for note in notes)
    mark = line_mark(language)
    blocks += (
        f"{vtt_timestamp(cue.start)} --> {vtt_timestamp(cue.end)}\n{vtt_text(text, mark)}\n"
        for cue, text in shown_cues(cues)
    )
    return "\n".join(blocks)


def write_track(cues: Sequence[Cue], language: str) -> str:
    return write_vtt(cues, language or None)


def vtt_timestamp(seconds: float) -> str:
    """`HH:MM:SS.mmm`."""
    return clock_time(seconds, ".")
