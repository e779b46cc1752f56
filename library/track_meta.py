"""What a stored track says of itself (`TrackMeta`, a NOTE in its WebVTT file) and what one
change did to a track (`TrackChange`, what a `captions.updated` event tells)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from schemas.events import TrackRef, TrackSource
from schemas.updates import CaptionsUpdated

_META_RE: Final = re.compile(
    r"^NOTE autocaption revision=(\d{1,9}) generated=(true|false) kind=(captions|subtitles) "
    r"updated_at=(\S{1,40})"
    r"(?: maker=(aligned) aligned=(\d{1,9}) interpolated=(\d{1,9}))?"
    r"(?: source=([A-Za-z0-9-]{2,35})@(\d{1,9}) translator=([\w.:/+-]{1,200})"
    r"(?: via=([A-Za-z-]{2,35}))?)?"
    r"\n\n?",
    re.MULTILINE,
)


@dataclass(frozen=True)
class TrackMeta:
    """What a stored track says of itself: its revision, whether a model or a person made it,
    its kind and when it was made. Written into the WebVTT file as a NOTE block (a comment that
    players skip), so it changes in the same write as the cues it describes."""

    revision: int
    generated: bool
    kind: Literal["captions", "subtitles"]
    updated_at: str
    source: TrackSource | None = None  # a translation's source (a person's edit keeps it)
    # a person's words timed by alignment: how many words alignment placed, how many it
    # interpolated (no speech to align to); None: a model's or a person's own revision
    alignment: tuple[int, int] | None = None

    @property
    def maker(self) -> str:
        """Who made the revision: "model", "person", or "aligned" (a person's words, timed by
        aligning them to the speech)."""
        if self.alignment is not None:
            return "aligned"
        return "model" if self.generated else "person"

    def note(self) -> str:
        generated = "true" if self.generated else "false"
        note = (
            f"NOTE autocaption revision={self.revision} generated={generated} "
            f"kind={self.kind} updated_at={self.updated_at}"
        )
        if self.alignment is not None:
            note += f" maker=aligned aligned={self.alignment[0]} interpolated={self.alignment[1]}"
        if self.source is not None:
            source = self.source
            note += f" source={source.language}@{source.revision} translator={source.translator}"
            note += f" via={source.via}" if source.via else ""
        return note + "\n"


@dataclass(frozen=True)
class TrackChange:
    """What one change did to a stored track (what a `captions.updated` event tells)."""

    language: str
    change: Literal["replaced", "deleted", "generated"]
    meta: TrackMeta  # the revision made (or, for a deletion, the one taken out of service)
    current: bool  # whether that revision is now the one served
    etag: str | None = None  # the served .vtt's new ETag, when it changed

    def event(self, video_id: str, tracks: Sequence[TrackRef]) -> CaptionsUpdated:
        """The `captions.updated` event of this change; `tracks`: the files it touched."""
        return CaptionsUpdated.for_change(
            video_id,
            self.language,
            kind=self.meta.kind,
            revision=self.meta.revision,
            generated=self.meta.generated,
            current=self.current,
            change=self.change,
            tracks=tracks,
        )


def read_track_meta(vtt: str) -> TrackMeta | None:
    """The `TrackMeta` a stored WebVTT track carries; None for one without (older tracks)."""
    match = _META_RE.search(vtt, 0, 2048)
    if match is None:
        return None
    revision, generated, kind, updated_at, maker, aligned, interpolated, *rest = match.groups()
    language, number, translator, via = rest
    source = TrackSource(language, int(number), translator, via) if language else None
    return TrackMeta(
        int(revision),
        generated == "true",
        kind,  # type: ignore[arg-type]
        updated_at,
        source,
        (int(aligned), int(interpolated)) if maker else None,
    )


def with_meta(vtt: str, meta: TrackMeta) -> str:
    """A WebVTT track with `meta` as its NOTE (after the signature), in place of any it had."""
    vtt = without_meta(vtt)
    header, blank, rest = vtt.partition("\n\n")
    return f"{header}\n\n{meta.note()}\n{rest}" if blank else f"{vtt.rstrip()}\n\n{meta.note()}"


def without_meta(vtt: str) -> str:
    """The track's text without its `TrackMeta` NOTE: what two revisions compare by."""
    return _META_RE.sub("", vtt, count=1)
