"""The writers of the track formats, one file a format, for the formats of the registry
(`schemas.formats`): `WRITERS` names the writer of each caption format; `transcript.json` has
its own (`write_transcript_json`), since it is made from the transcript, not from cues.

A new format is its entry in `schemas/formats.py`, its writer here (a module with
`write_track(cues, language) -> str`) and its line in `WRITERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from captions.cues import Cue
from captions.formats import srt, ttml, vtt
from captions.formats.srt import write_srt
from captions.formats.transcript_json import write_transcript_json
from captions.formats.ttml import write_ttml
from captions.formats.vtt import write_vtt

__all__ = [
    "WRITERS",
    "CaptionWriter",
    "write_caption_track",
    "write_srt",
    "write_transcript_json",
    "write_ttml",
    "write_vtt",
]

# The cues of one track and its language in, the file's text out.
CaptionWriter = Callable[[Sequence[Cue], str], str]

WRITERS: Final[dict[str, CaptionWriter]] = {
    "vtt": vtt.write_track,
    "srt": srt.write_track,
    "ttml": ttml.write_track,
}


def write_caption_track(fmt: str, cues: Sequence[Cue], language: str) -> str:
    """The text of a track of `cues` in `language`, in the caption format `fmt`."""
    return WRITERS[fmt](cues, language)
