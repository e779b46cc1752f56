"""The JSON documents of the captions API: a track as the list shows it, the caption rules of
its language as an editor checks them, and the files a change touched (for `captions.updated`).
"""

from __future__ import annotations

from typing import Any, Literal

from connectors.storage.layout import track_key
from connectors.storage.store import ObjectStore
from schemas.events import TrackRef
from schemas.languages import native_name
from transforms.cues import CaptionRules
from transforms.languages import rules_for_language
from transforms.pending import PendingTrack
from transforms.revisions import CurrentTrack
from transforms.tracks import TrackMeta


def track_files(store: ObjectStore, video_id: str, lang: str, meta: TrackMeta) -> list[TrackRef]:
    """The track's files the origin serves (or served, after a deletion): what caches purge."""
    formats: tuple[Literal["vtt", "srt"], ...] = ("vtt", "srt")
    return [
        TrackRef(
            lang,
            meta.kind,
            fmt,
            store.uri(track_key(video_id, lang, fmt)),
            track_key(video_id, lang, fmt),
            meta.revision,
            meta.generated,
            meta.updated_at,
        )
        for fmt in formats
    ]


def caption_entry(
    base: str,
    video_id: str,
    lang: str,
    track: CurrentTrack | None,
    pending: PendingTrack | None,
    spoken: str | None,
) -> dict[str, Any]:
    """One track as the list shows it (a track still being made has no files yet)."""
    url = f"{base}/v1/videos/{video_id}/captions/{lang}"
    meta = track.meta if track else None
    status = pending.status if pending else "ready"
    kind = meta.kind if meta else ("captions" if lang == spoken or spoken is None else "subtitles")
    return {
        "language": lang,
        "label": native_name(lang),
        "kind": kind,
        "generated": meta.generated if meta else True,
        "status": status,
        "revision": meta.revision if meta else None,
        "etag": track.etag if track else None,
        "updated_at": meta.updated_at if meta else (pending.requested_at if pending else None),
        "url": url,
        "urls": {"vtt": f"{url}.vtt", "srt": f"{url}.srt"} if track else None,
        "error": pending.error.to_dict() if pending and pending.error else None,
    }


def caption_rules(lang: str) -> dict[str, Any]:
    """The caption rules of a language, as an editor checks them."""
    rules = rules_for_language(lang, CaptionRules())
    return {
        "max_chars_per_line": rules.max_chars_per_line,
        "max_lines": rules.max_lines,
        "min_duration_s": round(rules.min_duration_s, 3),
        "max_duration_s": rules.max_duration_s,
        "min_gap_s": round(rules.min_gap_s, 3),
        "max_chars_per_second": rules.max_chars_per_second,
        "half_width_weight": rules.half_width_weight,
    }
