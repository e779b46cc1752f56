"""What every caption format shares: which cues are shown, with which line direction mark, and
how a time is written.

Times are cut down to whole milliseconds, the same way for every time, so a cut never makes a
cue end before it starts or overlap the next one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

from captions.cues import Cue
from captions.markup import RLM, CueText, tidy
from captions.rules import is_right_to_left

__all__ = ["RLM", "clock_time", "line_mark", "shown_cues"]

MS_PER_HOUR: Final = 3_600_000


def shown_cues(cues: Sequence[Cue]) -> list[tuple[Cue, CueText]]:
    """Each cue with its text (markup kept, whitespace tidied); cues without text go.

    An empty line would end a cue block in WebVTT and SubRip, so none is ever written."""
    shown = []
    for cue in cues:
        text = tidy(cue.cue_text)
        if text:
            shown.append((cue, text))
    return shown


def line_mark(language: str | None) -> str:
    """What starts each line of a track in `language` in WebVTT and SubRip: U+200F
    (RIGHT-TO-LEFT MARK) for a right-to-left language, since players take a line's direction
    from its first strong character (a line opening with a number or a Latin name would be laid
    out left to right); else nothing."""
    return RLM if is_right_to_left(language) else ""


def clock_time(seconds: float, separator: str = ".") -> str:
    """`HH:MM:SS.mmm` (`separator` between seconds and milliseconds); hours take as many digits
    as they need (at least two)."""
    if not math.isfinite(seconds):
        raise ValueError(f"a cue time must be finite, got {seconds}")
    # cut down, not round: a monotone cut keeps start <= end and the order of cues;
    # the nanosecond nudge keeps 1.001 (stored as 1.000999...) at 1001 ms
    ms = max(0, math.floor(seconds * 1000 + 1e-6))
    hours, ms = divmod(ms, MS_PER_HOUR)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"
