"""A video as storage holds it: its upload and its manifest."""

from __future__ import annotations

from connectors.storage.layout import manifest_key, uploads_prefix
from connectors.storage.store import ObjectStore
from schemas.manifest import Manifest


def read_manifest(store: ObjectStore, key: str) -> Manifest | None:
    """The manifest stored under `key`; None when there is none or it cannot be read."""
    try:
        return Manifest.from_json(store.get_bytes(key))
    except (FileNotFoundError, ValueError):
        return None


def stored_manifest(store: ObjectStore, video_id: str) -> Manifest | None:
    """The video's manifest; None while it is being captioned (or when it cannot be read)."""
    return read_manifest(store, manifest_key(video_id))


def upload_key_of(store: ObjectStore, video_id: str) -> str | None:
    """The key of the video's upload, None when there is none."""
    return next(iter(store.list(uploads_prefix(video_id))), None)
