"""The library: which videos there are (newest first), which are private, which were deleted.

A video is in the library through two small objects (`connectors.storage.layout`):

    library/videos/<id>.json                  its record: name, upload time, private or not
    library/recent/<inverted ms>~<id>~<o|p>~<name>
                                              its entry in the index, whose keys sort newest
                                              first and hold what a list shows (time, id,
                                              private or not, name): a page is one LIST from a
                                              cursor and a manifest read per video

The gateway writes both at upload (the record first); the stream service writes them for a
video whose event came from elsewhere (`autocaption publish`), unless they exist. A re-upload
removes the older entry; a delete removes both.

A delete leaves one object, the tombstone `library/deleted/<id>.json` with the time of the
delete. A job that was captioning the video when it was deleted, or a replay of its upload
event, finds the tombstone (its event occurred before the delete) and writes nothing, or takes
back what it wrote (`buried`, `purge`). An upload under the same id after the delete occurred
later, so it is a new video.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from connectors.storage.layout import (
    RECENT_PREFIX,
    captions_prefix,
    parse_recent_key,
    recent_key,
    record_key,
    tombstone_key,
    uploads_prefix,
)
from connectors.storage.store import ObjectStore, PreconditionFailed
from library.videos import stored_manifest
from schemas.manifest import Manifest

# Reads of one page's records and manifests run side by side (object stores answer in
# parallel; a page of 50 is then a few round trips, not 100).
_READERS: Final = ThreadPoolExecutor(32, thread_name_prefix="library-read")
_CHUNK: Final = 25
STATUSES: Final = ("processing", "ready", "failed")
# A filtered page examines at most this many videos (each a manifest read) before it answers
# with what it found and a cursor to go on from: a page's cost is bounded, like DynamoDB's
# filtered scans.
MAX_EXAMINED: Final = 200
# A search reads at most this many index keys (ten LISTs) a page, on the same terms.
MAX_SCANNED_KEYS: Final = 10_000
_JSON: Final = "application/json"


def precise_timestamp(moment: datetime | None = None) -> str:
    """`moment` (default: now) as RFC 3339 in UTC to the millisecond."""
    moment = datetime.now(UTC) if moment is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime:
    """An RFC 3339 time as an aware datetime; `ValueError` if it is not one."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"no time zone in {text!r}")
    return moment


def library_name(name: str) -> str:
    """A file name as the index keeps it: [A-Za-z0-9._-], at most 120 characters."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name.rsplit("/", 1)[-1]).strip("._-")[:120]
    return safe or "video"


@dataclass(frozen=True)
class VideoRecord:
    """The library's record of one video."""

    video_id: str
    name: str
    uploaded_at: str  # RFC 3339, to the millisecond
    private: bool = False

    @property
    def uploaded_ms(self) -> int:
        return int(parse_timestamp(self.uploaded_at).timestamp() * 1000)

    @property
    def index_key(self) -> str:
        return recent_key(self.uploaded_ms, self.video_id, library_name(self.name), self.private)

    @classmethod
    def from_index_key(cls, key: str) -> VideoRecord | None:
        """The record an index key holds; None for a key that is not one."""
        parsed = parse_recent_key(key)
        if parsed is None:
            return None
        ms, video_id, private, name = parsed
        moment = datetime.fromtimestamp(ms / 1000, UTC)
        return cls(video_id, name, precise_timestamp(moment), private)

    def to_json(self) -> bytes:
        document = {
            "video_id": self.video_id,
            "name": self.name,
            "uploaded_at": self.uploaded_at,
            "private": self.private,
        }
        return json.dumps(document, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> VideoRecord:
        d: dict[str, Any] = json.loads(raw)
        return cls(str(d["video_id"]), str(d["name"]), str(d["uploaded_at"]), d["private"] is True)


def record_of(store: ObjectStore, video_id: str) -> VideoRecord | None:
    """The video's record; None when it has none (deleted, or captioned by the CLI)."""
    try:
        return VideoRecord.from_json(store.get_bytes(record_key(video_id)))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):  # unreadable: listed as a plain public video
        return None


def is_private(store: ObjectStore, video_id: str) -> bool:
    record = record_of(store, video_id)
    return record is not None and record.private


def register(store: ObjectStore, record: VideoRecord) -> None:
    """Put the video in the library (an upload): its record, then its index entry. A
    re-upload's older entry is removed."""
    old = record_of(store, record.video_id)
    store.put_bytes(record_key(record.video_id), record.to_json(), _JSON)
    store.put_bytes(record.index_key, record.to_json(), _JSON)
    if old is not None and old.index_key != record.index_key:
        store.delete(old.index_key)


def ensure_registered(store: ObjectStore, record: VideoRecord) -> bool:
    """Put the video in the library unless it is there; whether this call put it."""
    try:
        store.put_if(record_key(record.video_id), record.to_json(), _JSON, if_none_match=True)
    except PreconditionFailed:
        return False
    store.put_bytes(record.index_key, record.to_json(), _JSON)
    return True


# --- the list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    """One video of a page: its record and its manifest (None while it is processing)."""

    record: VideoRecord
    manifest: Manifest | None

    @property
    def status(self) -> str:
        return "processing" if self.manifest is None else self.manifest.status


@dataclass(frozen=True)
class Page:
    videos: list[Listed]
    after: str | None  # the index key to go on after; None: this was the last page


def list_videos(
    store: ObjectStore,
    *,
    limit: int = 20,
    after: str = "",
    search: str = "",
    status: str | None = None,
) -> Page:
    """A page of the library, newest first, from after the index key `after`.

    Unfiltered, a page is one LIST of `limit` + 1 keys and a record and manifest read per
    video, whatever page it is. `search` (a case-insensitive part of the name) is matched on
    the index keys themselves (at most `MAX_SCANNED_KEYS` a page); `status` needs each video's
    manifest (at most `MAX_EXAMINED` a page). A filtered page may so hold fewer than `limit`
    videos, with a cursor to go on from."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"status is one of {', '.join(STATUSES)}")
    needle = search.lower()
    videos: list[Listed] = []
    examined = 0
    scanned = 0
    cursor = after
    while True:
        filtered = bool(needle) or status is not None
        want = 1000 if filtered else limit - len(videos) + 1
        keys = store.list_page(RECENT_PREFIX, cursor, want)
        scanned += len(keys)
        candidates = [(k, r) for k in keys if (r := VideoRecord.from_index_key(k)) is not None]
        if needle:
            candidates = [(k, r) for k, r in candidates if needle in r.name.lower()]
        last_page = len(keys) < want
        for key, listed in _read_in_order(store, candidates):
            examined += 1
            cursor = key
            if listed is not None and (status is None or listed.status == status):
                videos.append(listed)
                if len(videos) == limit:
                    more = not last_page or key != candidates[-1][0]
                    return Page(videos, key if more else None)
            if status is not None and examined >= MAX_EXAMINED:
                more = not last_page or key != candidates[-1][0]
                return Page(videos, key if more else None)
        if last_page:
            return Page(videos, None)
        cursor = keys[-1]
        if scanned >= MAX_SCANNED_KEYS:
            return Page(videos, cursor)


def _read_in_order(
    store: ObjectStore, candidates: list[tuple[str, VideoRecord]]
) -> Iterator[tuple[str, Listed | None]]:
    """(index key, the video) for each candidate, in order, their manifests read
    `_CHUNK` at a time."""
    for start in range(0, len(candidates), _CHUNK):
        chunk = candidates[start : start + _CHUNK]
        read = _READERS.map(lambda kr: Listed(kr[1], stored_manifest(store, kr[1].video_id)), chunk)
        yield from zip((k for k, _ in chunk), read, strict=True)


# --- delete -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tombstone:
    video_id: str
    deleted_at: str  # RFC 3339, to the millisecond

    def covers(self, occurred_at: str | None) -> bool:
        """Whether an event that occurred at `occurred_at` is of the deleted video (before
        the delete). An event without a time cannot say, so it is taken as the deleted one's."""
        if occurred_at is None:
            return True
        try:
            return parse_timestamp(occurred_at) <= parse_timestamp(self.deleted_at)
        except ValueError:
            return True


def tombstone_of(store: ObjectStore, video_id: str) -> Tombstone | None:
    try:
        d = json.loads(store.get_bytes(tombstone_key(video_id)))
        return Tombstone(str(d["video_id"]), str(d["deleted_at"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):  # unreadable: taken as deleted now
        return Tombstone(video_id, precise_timestamp())


def buried(store: ObjectStore, video_id: str, occurred_at: str | None) -> bool:
    """Whether the video an event of `occurred_at` is about was deleted after it."""
    tombstone = tombstone_of(store, video_id)
    return tombstone is not None and tombstone.covers(occurred_at)


def bury(store: ObjectStore, video_id: str) -> Tombstone:
    """Write the video's tombstone (a later delete moves its time on)."""
    tombstone = Tombstone(video_id, precise_timestamp())
    document = {"video_id": video_id, "deleted_at": tombstone.deleted_at}
    store.put_bytes(tombstone_key(video_id), json.dumps(document).encode("utf-8"), _JSON)
    return tombstone


def purge(store: ObjectStore, video_id: str, *, uploads: bool = True, before: str = "") -> int:
    """Delete what storage holds of the video but its tombstone: its captions, transcript,
    revisions and manifest, its upload (unless `uploads` is False) and its library record and
    index entry (only those of an upload at or before `before`, when given). The number of
    objects deleted."""
    keys = list(store.list(captions_prefix(video_id)))
    if uploads:
        keys += store.list(uploads_prefix(video_id))
    record = record_of(store, video_id)
    if record is not None and (
        not before or parse_timestamp(record.uploaded_at) <= parse_timestamp(before)
    ):
        keys += [record.index_key, record_key(video_id)]  # the record last: it finds the entry
    list(_READERS.map(store.delete, keys[:-1]))
    if keys:
        store.delete(keys[-1])
    return len(keys)


def is_known(store: ObjectStore, video_id: str) -> bool:
    """Whether storage holds anything of the video but a tombstone."""
    return (
        store.exists(record_key(video_id))
        or next(iter(store.list(uploads_prefix(video_id))), None) is not None
        or next(iter(store.list(captions_prefix(video_id))), None) is not None
    )
