"""Tracks asked for again (the captions API's generate), from the request to the answer.

`captions/<id>/pending/<lang>.json` says a track is being made again: the request's upload
event, when it was asked, and `generating` or, once the pipeline could not make it, `failed`
with the error. The pipeline removes it when the new revision is committed; a newer request for
the same track replaces it, and an answer to an older request leaves the newer one alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from connectors.storage.layout import captions_prefix, content_type_for, pending_key
from connectors.storage.store import ObjectStore
from schemas.events import ErrorDetail, utc_timestamp
from schemas.ids import is_language_code


@dataclass(frozen=True)
class PendingTrack:
    language: str
    event_id: str  # of the `video.uploaded` event that asks for it
    requested_at: str
    status: Literal["generating", "failed"] = "generating"
    error: ErrorDetail | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "event_id": self.event_id,
            "requested_at": self.requested_at,
            "status": self.status,
            "error": None if self.error is None else self.error.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PendingTrack:
        error = d.get("error")
        return cls(
            d["language"],
            d["event_id"],
            d["requested_at"],
            d.get("status", "generating"),
            None if error is None else ErrorDetail.from_dict(error),
        )


def mark_pending(store: ObjectStore, video_id: str, language: str, event_id: str) -> PendingTrack:
    """Record that the track is being made again by the upload event `event_id`."""
    pending = PendingTrack(language, event_id, utc_timestamp())
    _put(store, video_id, pending)
    return pending


def pending_tracks(store: ObjectStore, video_id: str) -> list[PendingTrack]:
    """Every track of the video being made again (or that failed to be), by language."""
    prefix = f"{captions_prefix(video_id)}pending/"
    found = []
    for key in store.list(prefix):
        name = key[len(prefix) :]
        if not (name.endswith(".json") and is_language_code(name[:-5])):
            continue
        try:
            found.append(PendingTrack.from_dict(json.loads(store.get_bytes(key))))
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            continue  # removed meanwhile, or not ours
    return sorted(found, key=lambda p: p.language)


def settle_pending(
    store: ObjectStore,
    video_id: str,
    languages: Iterable[str],
    event_id: str | None,
    error: ErrorDetail | None = None,
) -> None:
    """The answer to request `event_id`: its marks removed, or marked failed with `error`."""
    for language in set(languages):
        if not is_language_code(language):
            continue
        key = pending_key(video_id, language)
        try:
            pending = PendingTrack.from_dict(json.loads(store.get_bytes(key)))
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            continue
        if pending.event_id != event_id:
            continue  # a newer request: its own answer settles it
        if error is None:
            store.delete(key)
        else:
            failed = PendingTrack(language, event_id, pending.requested_at, "failed", error)
            _put(store, video_id, failed)


def _put(store: ObjectStore, video_id: str, pending: PendingTrack) -> None:
    key = pending_key(video_id, pending.language)
    store.put_bytes(key, json.dumps(pending.to_dict()).encode("utf-8"), content_type_for(key))
