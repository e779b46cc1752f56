"""Translations the gateway makes itself, in the background: after a person corrects a source
track (its machine translations follow), and on request (`generate` for a subtitle language).

One worker thread, with the translators loaded once (`Gateway.translators`), so translating
never holds a request; each new revision is announced on `captions.updated` as any change is.
A translation that cannot be made is logged, and one asked for is marked `failed` with its
error in the list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from gateway.caption_documents import track_files
from gateway.context import Gateway
from gateway.publishing import announce
from library.catalog import precise_timestamp, purge, tombstone_of
from library.pending import settle_pending
from library.revisions import current_track
from library.translations import FollowResult, follow_correction, translate_track
from library.videos import stored_manifest
from schemas.errors import ErrorCode
from schemas.events import ErrorDetail

log = logging.getLogger(__name__)


def follow_in_background(gateway: Gateway, video_id: str, language: str) -> None:
    """Make the machine translations of the video's `language` track again, from its current
    revision (a person's edit of a translation is left alone: it shows as stale)."""
    gateway.background.submit(_unless_deleted, _follow, gateway, video_id, language)


def translate_in_background(
    gateway: Gateway, video_id: str, source: str, target: str, event_id: str
) -> None:
    """Translate the video's current `source` track into `target`; the pending mark of request
    `event_id` is settled when done (removed, or `failed` with the error)."""
    args = (gateway, video_id, source, target, event_id)
    gateway.background.submit(_unless_deleted, _translate, *args)


def _unless_deleted(job: Callable[..., None], gateway: Gateway, video_id: str, *args: str) -> None:
    """Run `job`; a video deleted meanwhile stays deleted: what the job wrote is taken back
    (as the stream service's write step does)."""
    asked = precise_timestamp()
    job(gateway, video_id, *args)
    tombstone = tombstone_of(gateway.store, video_id)
    if tombstone is not None and tombstone.covers(asked):
        purge(gateway.store, video_id, uploads=False, before=tombstone.deleted_at)


def _follow(gateway: Gateway, video_id: str, language: str) -> None:
    try:
        hotwords, media_end = _video_facts(gateway, video_id)
        result = follow_correction(
            gateway.store,
            video_id,
            language,
            gateway.translators,
            hotwords=hotwords,
            media_end=media_end,
        )
        _announce_all(gateway, video_id, result)
        for lang, error in result.failed:
            log.warning("the %s translation of %s was not made again: %s", lang, video_id, error)
    except Exception:  # a background job: log, never take the gateway down
        log.exception("following the %s correction of %s failed", language, video_id)


def _translate(gateway: Gateway, video_id: str, source: str, target: str, event_id: str) -> None:
    store = gateway.store
    try:
        track = current_track(store, video_id, source)
        if track is None:
            error = ErrorDetail(ErrorCode.TRANSLATION_FAILED, f"there is no {source} track")
            settle_pending(store, video_id, [target], event_id, error)
            return
        hotwords, media_end = _video_facts(gateway, video_id)
        result = translate_track(
            store,
            video_id,
            track,
            [target],
            gateway.translators,
            hotwords=hotwords,
            media_end=media_end,
        )
        _announce_all(gateway, video_id, result)
        settle_pending(
            store, video_id, [target], event_id, result.failed[0][1] if result.failed else None
        )
    except Exception as exc:
        log.exception("translating %s into %s failed", video_id, target)
        error = ErrorDetail(ErrorCode.TRANSLATION_FAILED, str(exc)[:1000])
        settle_pending(store, video_id, [target], event_id, error)


def _video_facts(gateway: Gateway, video_id: str) -> tuple[str | None, float | None]:
    """The video's vocabulary (kept as written in translations) and duration."""
    manifest = stored_manifest(gateway.store, video_id)
    if manifest is None:
        return None, None
    hotwords = (manifest.vocabulary or (None, None))[0]
    return hotwords, manifest.duration_s


def _announce_all(gateway: Gateway, video_id: str, result: FollowResult) -> None:
    for change in result.changes:
        tracks = track_files(gateway.store, video_id, change.language, change.meta)
        announce(gateway, video_id, change, tracks)
