"""The one list of track formats: what each is called, its file extension and its media type.

Everything that names a format reads it from here: the CLI's `--formats` choices, the `format`
enum of the event and manifest schemas (filled in when the schema files are loaded), the storage
layout's file names and content types, the gateway's route `/captions/{lang}.{format}` and its
media types, and the formats a revision is written in. The text of each format is made by its
writer in `captions/formats/` (one file a format, listed in `captions.formats.WRITERS`).

A new format is one entry here plus its writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class TrackFormat:
    """One format a video's captions are written in."""

    name: str  # also the file extension: `en.vtt`; how events, manifests and the CLI say it
    title: str  # how a page names it (a download link)
    media_type: str  # the Content-Type it is served with
    # True: a caption track, one file a language (`<lang>.<name>`), made from the cues; False: one
    # file a video made from the transcript (`transcript.json`).
    cues: bool = True

    @property
    def extension(self) -> str:
        return f".{self.name}"


TRACK_FORMATS: Final = (
    TrackFormat("vtt", "WebVTT", "text/vtt; charset=utf-8"),
    TrackFormat("srt", "SRT", "application/x-subrip; charset=utf-8"),  # SubRip
    # IMSC 1.1 Text Profile: the TTML that broadcasters and streaming services take for delivery.
    TrackFormat("ttml", "TTML", "application/ttml+xml; charset=utf-8"),
    TrackFormat("json", "transcript JSON", "application/json", cues=False),
)
FORMAT_NAMES: Final = tuple(f.name for f in TRACK_FORMATS)
# The formats of a caption track, in the order lists show them; WebVTT, the one revisions are
# kept in, first.
CAPTION_FORMATS: Final = tuple(f.name for f in TRACK_FORMATS if f.cues)
KEPT_FORMAT: Final = "vtt"  # revisions are kept as WebVTT; the other formats are made from it


def is_caption_format(name: object) -> bool:
    """True if `name` is the format of a caption track (one file a language)."""
    return isinstance(name, str) and name in CAPTION_FORMATS
