"""The `captions.updated` event: a caption track changed through the captions API.

A person saved a revision (`replaced`, a new language too), took a track out of service
(`deleted`), or a track was made again on request (`generated`). Caches purge the track's files
and search indexes read it again. Checked against `captions_updated.v1.json`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from schemas.events import Event, TrackRef, incoming, utc_timestamp
from schemas.ids import derived_event_id
from schemas.validation import CAPTIONS_UPDATED, check_outgoing

Change = Literal["replaced", "deleted", "generated"]


@dataclass(frozen=True)
class CaptionsUpdated(Event):
    event_id: str
    video_id: str
    language: str
    kind: Literal["captions", "subtitles"]
    revision: int
    generated: bool
    current: bool
    change: Change
    tracks: tuple[TrackRef, ...]
    occurred_at: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "tracks", tuple(self.tracks))
        check_outgoing(CAPTIONS_UPDATED, self.to_event())

    @classmethod
    def for_change(
        cls,
        video_id: str,
        language: str,
        *,
        kind: Literal["captions", "subtitles"],
        revision: int,
        generated: bool,
        current: bool,
        change: Change,
        tracks: Sequence[TrackRef],
        occurred_at: str | None = None,
    ) -> CaptionsUpdated:
        """The event of one change; its id depends only on the video, language, revision and
        change, so a replayed change repeats it."""
        event_id = derived_event_id("captions.updated", video_id, language, str(revision), change)
        return cls(
            event_id,
            video_id,
            language,
            kind,
            revision,
            generated,
            current,
            change,
            tuple(tracks),
            occurred_at or utc_timestamp(),
        )

    def to_event(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "video_id": self.video_id,
            "language": self.language,
            "kind": self.kind,
            "revision": self.revision,
            "generated": self.generated,
            "current": self.current,
            "change": self.change,
            "tracks": [t.to_dict() for t in self.tracks],
            "occurred_at": self.occurred_at,
        }

    @classmethod
    def from_json(cls, raw: bytes | str) -> CaptionsUpdated:
        """Parse a `captions.updated` message; `CaptionError(INVALID_EVENT)` if it is not one."""
        d = incoming(raw, CAPTIONS_UPDATED, "captions.updated event")
        return cls(
            d["event_id"],
            d["video_id"],
            d["language"],
            d["kind"],
            d["revision"],
            d["generated"],
            d["current"],
            d["change"],
            tuple(TrackRef.from_dict(t) for t in d["tracks"]),
            d["occurred_at"],
        )
