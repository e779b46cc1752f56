"""The `video.deleted` event: a video was deleted for good (`DELETE /v1/videos/{id}`).

Caches purge its URLs, search indexes drop it, systems that copied its captions delete them.
Checked against `video_deleted.v1.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.events import Event, incoming, utc_timestamp
from schemas.ids import derived_event_id
from schemas.validation import VIDEO_DELETED, check_outgoing


@dataclass(frozen=True)
class VideoDeleted(Event):
    event_id: str
    video_id: str
    deleted_at: str
    occurred_at: str

    def __post_init__(self) -> None:
        check_outgoing(VIDEO_DELETED, self.to_event())

    @classmethod
    def for_deletion(cls, video_id: str, deleted_at: str) -> VideoDeleted:
        """The event of one deletion; a retried delete of it repeats its id."""
        event_id = derived_event_id("video.deleted", video_id, deleted_at)
        return cls(event_id, video_id, deleted_at, utc_timestamp())

    def to_event(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "video_id": self.video_id,
            "deleted_at": self.deleted_at,
            "occurred_at": self.occurred_at,
        }

    @classmethod
    def from_json(cls, raw: bytes | str) -> VideoDeleted:
        """Parse a `video.deleted` message; `CaptionError(INVALID_EVENT)` if it is not one."""
        d = incoming(raw, VIDEO_DELETED, "video.deleted event")
        return cls(d["event_id"], d["video_id"], d["deleted_at"], d["occurred_at"])
