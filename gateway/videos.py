"""The read side of the gateway: status, and the origin for the video, its caption tracks and
its transcript.

    GET /v1/videos/{id}                      processing | ready (tracks) | failed (error)
    GET /v1/videos/{id}/source               the upload (Range, ETag)
    GET /v1/videos/{id}/captions/{lang}.{format}   a track in a format of the registry
    GET /v1/videos/{id}/transcript           transcript.json: words, times and probabilities

Storage calls block, so these are plain functions (FastAPI runs them in a thread pool).
"""

from __future__ import annotations

import hashlib
import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from connectors.storage.layout import caption_key, content_type_for, track_key
from connectors.storage.store import ObjectStore
from gateway.access import cache_control, check_read
from gateway.caption_documents import track_file_response
from gateway.context import gateway_of
from gateway.origin import (
    PREFLIGHT_HEADERS,
    SOURCE_CACHE,
    caption_cache,
    quoted,
    serve_object,
)
from gateway.params import check_format, check_language, check_video_id
from gateway.responses import (
    NOT_FOUND,
    ApiError,
    CaptionFormat,
    ErrorDetail,
    Track,
    VideoStatus,
    answer,
    error_responses,
)
from library.catalog import record_of
from library.videos import stored_manifest, upload_key_of
from schemas.formats import KEPT_FORMAT, TRACK_FORMATS, is_caption_format
from schemas.ids import is_language_code
from schemas.manifest import Manifest

router = APIRouter()


@router.get(
    "/v1/videos/{video_id}",
    response_model=VideoStatus,
    tags=["videos"],
    responses=error_responses(400, 404),
)
def get_video(video_id: str, request: Request) -> JSONResponse:
    """The captioning status of an upload and, once ready, its caption tracks. The ETag is
    the document's, for `If-Match` on a delete."""
    check_read(request, video_id)
    gateway = gateway_of(request)
    status = video_status(gateway.store, video_id, gateway.base_url(request))
    return answer(status, headers={"ETag": quoted(status_etag(status))})


@router.get(
    "/v1/videos/{video_id}/source",
    tags=["origin"],
    response_class=Response,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "the upload"},
        206: {"description": "one byte range"},
        304: {"description": "not modified"},
        **error_responses(400, 404, 416),
    },
)
def get_source(video_id: str, request: Request) -> Response:
    """The uploaded file, with single byte ranges, ETag and CORS (for <video>)."""
    private = check_read(request, video_id)
    store = gateway_of(request).store
    key = upload_key_of(store, video_id)
    if key is None:
        raise ApiError(404, NOT_FOUND, f"no upload for video {video_id!r}")
    cache = cache_control(private, SOURCE_CACHE)
    return serve_object(
        store, key, request.headers, content_type=content_type_for(key), cache_control=cache
    )


@router.get(
    "/v1/videos/{video_id}/captions/{lang}.{fmt}",
    tags=["origin"],
    response_class=Response,
    responses={
        200: {
            "content": {f.media_type.split(";")[0]: {} for f in TRACK_FORMATS if f.cues},
            "description": "the current revision of the track in this format",
        },
        304: {"description": "not modified"},
        **error_responses(400, 404, 416),
    },
)
def get_captions(video_id: str, lang: str, fmt: str, request: Request) -> Response:
    """A caption track in one of the registry's formats (`vtt`, `srt`, `ttml`), cacheable and
    loadable cross-origin by a `<track>`."""
    private = check_read(request, video_id)
    lang, fmt = check_language(lang), check_format(fmt)
    gateway = gateway_of(request)
    return track_file_response(
        gateway.store,
        track_key(video_id, lang, KEPT_FORMAT),
        fmt,
        lang,
        request.headers,
        cache_control=cache_control(private, caption_cache(gateway.settings.caption_max_age_s)),
        stored_key=track_key(video_id, lang, fmt),
    )


def preflight() -> Response:
    return Response(status_code=204, headers=PREFLIGHT_HEADERS)


for path in ("/v1/videos/{video_id}/source", "/v1/videos/{video_id}/captions/{lang}.{fmt}"):
    router.add_api_route(path, preflight, methods=["OPTIONS"], include_in_schema=False)


@router.get(
    "/v1/videos/{video_id}/transcript",
    tags=["origin"],
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}, "description": "transcript.json"},
        304: {"description": "not modified"},
        **error_responses(400, 404),
    },
)
def get_transcript(video_id: str, request: Request) -> Response:
    """What the model heard, as `transcript.json`: segments and words with their times and
    probabilities (a reviewer checks the unsure words first)."""
    private = check_read(request, video_id)
    gateway = gateway_of(request)
    key = caption_key(video_id, "transcript.json")
    cache = cache_control(private, caption_cache(gateway.settings.caption_max_age_s))
    return serve_object(
        gateway.store, key, request.headers, content_type="application/json", cache_control=cache
    )


def video_status(store: ObjectStore, video_id: str, base: str) -> VideoStatus:
    """The status document of a video: processing, ready (with its tracks) or failed."""
    check_video_id(video_id)
    manifest = stored_manifest(store, video_id)
    upload = upload_key_of(store, video_id)
    if manifest is None and upload is None:
        raise ApiError(404, NOT_FOUND, f"no video {video_id!r}")
    record = record_of(store, video_id)
    video_url = f"{base}/v1/videos/{video_id}"
    ready = manifest is not None and manifest.status == "ready"
    error = manifest.error if manifest is not None and not ready else None
    return VideoStatus(
        video_id=video_id,
        name=upload.rpartition("/")[2] if upload else None,
        status="processing" if manifest is None else manifest.status,
        language=manifest.language if ready and manifest else None,
        duration_s=manifest.duration_s if ready and manifest else None,
        tracks=track_links(video_url, manifest),
        error=ErrorDetail(code=str(error.code), message=error.message) if error else None,
        source_url=f"{video_url}/source" if upload else None,
        watch_url=f"{base}/watch/{video_id}",
        private=record is not None and record.private,
        uploaded_at=record.uploaded_at if record else None,
    )


def track_links(video_url: str, manifest: Manifest | None) -> list[Track]:
    """The origin's URL of each ready caption track of a ready video."""
    if manifest is None or manifest.status != "ready":
        return []
    return [
        Track(
            language=t.language,
            kind=t.kind,
            format=CaptionFormat(t.format),
            url=f"{video_url}/captions/{t.language}.{t.format}",
        )
        for t in manifest.tracks
        if is_caption_format(t.format) and is_language_code(t.language) and t.status == "ready"
    ]


def status_etag(status: VideoStatus) -> str:
    """The ETag of a status document: what a delete's If-Match names."""
    document = status.model_dump(mode="json", exclude={"source_url", "watch_url"})
    for track in document["tracks"]:
        track.pop("url")  # the URLs follow the request's host; the video is the same
    body = json.dumps(document, sort_keys=True).encode("utf-8")
    return hashlib.sha256(body).hexdigest()[:32]
