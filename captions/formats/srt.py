"""SubRip: cues numbered from 1, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, a blank line after each."""

from __future__ import annotations

from collections.abc import Sequence

from captions.cues import Cue
from captions.formats.shown import clock_time, line_mark, shown_cues
from captions.markup import srt_text


def write_srt(cues: Sequence[Cue], language: str | None = None) -> str:
    """A SubRip file; a person's italics, bold and underline are kept as SubRip's tags."""
    mark = line_mark(language)
    return "".join(
        f"{number}\n{srt_timestamp(cue.start)} --> {srt_timestamp(cue.end)}\n"
        f"{srt_text(text, mark)}\n\n"
        for number, (cue, text) in enumerate(shown_cues(cues), start=1)
    )


def write_track(cues: Sequence[Cue], language: str) -> str:
    return write_srt(cues, language or None)


def srt_timestamp(seconds: float) -> str:
    """`HH:MM:SS,mmm`."""
    return clock_time(seconds, ",")
