"""The library's routes: the list, a delete for good, and playback tokens of private videos.

    GET    /v1/videos                 newest first; ?status= &q= &limit= &cursor=
    DELETE /v1/videos/{id}            everything but a tombstone; announces video.deleted
    POST   /v1/videos/{id}/token      a playback token for a private video

All three need the API key when one is set. The list reads the library's index
(`library.catalog`): a page is one listing from its cursor, whatever page it is, and a cursor
is an index key, so an upload during the paging is never shown twice nor makes another skipped.
"""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import UTC, datetime
from typing import Annotated

from confluent_kafka import KafkaException
from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, Response

from connectors.kafka.config import KafkaDeliveryError
from connectors.storage.layout import RECENT_PREFIX
from gateway.context import gateway_of, require_api_key
from gateway.params import check_video_id, preconditions
from gateway.responses import (
    INVALID_REQUEST,
    NOT_FOUND,
    PRECONDITION_FAILED,
    UNAVAILABLE,
    ApiError,
    ErrorDetail,
    PlaybackToken,
    TokenRequest,
    VideoList,
    VideoSummary,
    answer,
    error_responses,
)
from gateway.tokens import MAX_TTL_S, issue
from gateway.videos import status_etag, track_links, video_status
from library.catalog import (
    STATUSES,
    Listed,
    bury,
    is_known,
    list_videos,
    purge,
    record_of,
    tombstone_of,
)
from schemas.deletions import VideoDeleted

log = logging.getLogger("autocaption.gateway")
router = APIRouter()
MAX_PAGE = 100


@router.get(
    "/v1/videos",
    response_model=VideoList,
    tags=["library"],
    responses=error_responses(400, 401),
)
def list_library(
    request: Request,
    status: Annotated[
        str | None, Query(description="only videos in this status: processing, ready, failed")
    ] = None,
    q: Annotated[
        str | None, Query(description="only videos whose name holds this (any case)")
    ] = None,
    limit: Annotated[int, Query(description="videos a page, 1 to 100")] = 20,
    cursor: Annotated[str | None, Query(description="next_cursor of the page before")] = None,
) -> JSONResponse:
    """The library, newest first, with each video's status, duration, languages and tracks."""
    require_api_key(request)
    if status is not None and status not in STATUSES:
        raise ApiError(400, INVALID_REQUEST, f"status is one of {', '.join(STATUSES)}")
    if not 1 <= limit <= MAX_PAGE:
        raise ApiError(400, INVALID_REQUEST, f"limit is 1 to {MAX_PAGE}")
    if q is not None and len(q) > 100:
        raise ApiError(400, INVALID_REQUEST, "q is at most 100 characters")
    gateway = gateway_of(request)
    page = list_videos(
        gateway.store,
        limit=limit,
        after=_after(cursor) if cursor else "",
        search=(q or "").strip(),
        status=status,
    )
    base = gateway.base_url(request)
    return answer(
        VideoList(
            videos=[_summary(base, listed) for listed in page.videos],
            next_cursor=_cursor(page.after) if page.after else None,
        )
    )


def _cursor(after: str) -> str:
    return base64.urlsafe_b64encode(after[len(RECENT_PREFIX) :].encode()).decode().rstrip("=")


def _after(cursor: str) -> str:
    try:
        name = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError(400, INVALID_REQUEST, "cursor is not one this API gave") from None
    if not name or "/" in name or len(name) > 400:
        raise ApiError(400, INVALID_REQUEST, "cursor is not one this API gave")
    return RECENT_PREFIX + name


def _summary(base: str, listed: Listed) -> VideoSummary:
    record, manifest = listed.record, listed.manifest
    ready = manifest is not None and manifest.status == "ready"
    video_url = f"{base}/v1/videos/{record.video_id}"
    tracks = track_links(video_url, manifest)
    spoken = manifest.language if ready and manifest else None
    languages = sorted({t.language for t in tracks}, key=lambda lang: (lang != spoken, lang))
    error = manifest.error if manifest is not None and not ready else None
    return VideoSummary(
        video_id=record.video_id,
        name=record.name,
        status="processing" if manifest is None else manifest.status,
        uploaded_at=record.uploaded_at,
        private=record.private,
        language=spoken,
        duration_s=manifest.duration_s if ready and manifest else None,
        languages=languages,
        tracks=tracks,
        error=ErrorDetail(code=str(error.code), message=error.message) if error else None,
        status_url=video_url,
        watch_url=f"{base}/watch/{record.video_id}",
    )


@router.delete(
    "/v1/videos/{video_id}",
    status_code=204,
    response_class=Response,
    tags=["library"],
    responses={204: {"description": "deleted"}, **error_responses(400, 401, 404, 412, 503)},
)
def delete_video(video_id: str, request: Request) -> Response:
    """Delete the video for good: its upload, every track and revision, its transcript and
    manifest, its place in the library. A tombstone stays, so a job captioning it writes
    nothing back. `If-Match` takes the ETag of `GET /v1/videos/{id}`. Announced as
    `video.deleted`; when the broker is down the video is deleted and the answer is 503: the
    same DELETE again announces it."""
    require_api_key(request)
    check_video_id(video_id)
    gateway = gateway_of(request)
    store = gateway.store
    if_match, _ = preconditions(request, allow_none_match=False)
    known = is_known(store, video_id)
    tombstone = tombstone_of(store, video_id)
    if not known and tombstone is None:
        raise ApiError(404, NOT_FOUND, f"no video {video_id!r}")
    if if_match is not None:
        current = _etag_of(store, video_id) if known else None
        if current is None or (if_match != "*" and if_match != current):
            raise ApiError(412, PRECONDITION_FAILED, "the video is not as If-Match says")
    if known:
        tombstone = bury(store, video_id)
        purge(store, video_id)
    assert tombstone is not None
    event = VideoDeleted.for_deletion(video_id, tombstone.deleted_at)
    try:
        gateway.publisher.publish(
            gateway.settings.deleted_topic, video_id, event.to_json().encode("utf-8")
        )
    except (KafkaDeliveryError, KafkaException) as exc:
        log.error("video.deleted of %s not published: %s", video_id, exc)
        message = "the video was deleted but the event broker is unavailable; retry the DELETE"
        raise ApiError(503, UNAVAILABLE, message) from None
    return Response(status_code=204)


def _etag_of(store: object, video_id: str) -> str | None:
    try:
        return status_etag(video_status(store, video_id, ""))  # type: ignore[arg-type]
    except ApiError:
        return None


@router.post(
    "/v1/videos/{video_id}/token",
    response_model=PlaybackToken,
    tags=["library"],
    responses=error_responses(400, 401, 404, 503),
)
def playback_token(
    video_id: str,
    request: Request,
    body: Annotated[TokenRequest | None, Body()] = None,
) -> JSONResponse:
    """A signed token that lets its bearer read this video (private or not) until it expires:
    add `?token=` to the URL of the source, a track, the transcript, or the watch page."""
    require_api_key(request)
    check_video_id(video_id)
    gateway = gateway_of(request)
    asked = body or TokenRequest()
    if not 1 <= asked.ttl_s <= MAX_TTL_S:
        raise ApiError(400, INVALID_REQUEST, f"ttl_s is 1 to {MAX_TTL_S}")
    for origin in asked.origins or ():
        if not origin.startswith(("http://", "https://")) or origin.count("/") != 2:
            raise ApiError(400, INVALID_REQUEST, f"{origin[:60]!r} is not an origin")
    if record_of(gateway.store, video_id) is None and not is_known(gateway.store, video_id):
        raise ApiError(404, NOT_FOUND, f"no video {video_id!r}")
    keys = gateway.settings.tokens
    if not keys.can_issue:
        message = "the gateway has no signing key (autocaption serve --signing-key)"
        raise ApiError(503, UNAVAILABLE, message)
    token, expires = issue(
        keys, video_id, asked.ttl_s, ip=asked.ip, origins=tuple(asked.origins or ())
    )
    expires_at = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return answer(
        PlaybackToken(video_id=video_id, token=token, expires_at=expires_at, query=f"token={token}")
    )
