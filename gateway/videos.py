"""The read side of the gateway: status, and the origin for the video, its caption tracks and
its transcript.

    GET /v1/videos/{id}                      processing | ready (tracks) | failed (error)
    GET /v1/videos/{id}/source               the upload (Range, ETag)
    GET /v1/videos/{id}/captions/{lang}.vtt|.srt
    GET /v1/videos/{id}/transcript           transcript.json: words, times and probabilities

Storage calls block, so these are plain functions (FastAPI runs them in a thread pool).
"""

from __future__ import annotations

import re
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from connectors.storage.layout import caption_key, content_type_for, manifest_key, uploads_prefix
from connectors.storage.store import ObjectStore
from gateway.context import gateway_of
from gateway.origin import (
    PREFLIGHT_HEADERS,
    SOURCE_CACHE,
    RangeNotSatisfiable,
    caption_cache,
    object_response,
)
from gateway.responses import RANGE_NOT_SATISFIABLE, ApiError, VideoStatus, error_responses
from schemas.errors import ErrorCode
from schemas.ids import is_safe_video_id
from schemas.manifest import Manifest

CAPTION_FORMATS: Final = ("vtt", "srt")
_LANGUAGE_RE: Final = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,3}")

router = APIRouter()


@router.get(
    "/v1/videos/{video_id}",
    response_model=VideoStatus,
    tags=["videos"],
    responses=error_responses(400, 404),
)
def get_video(video_id: str, request: Request) -> JSONResponse:
    """The captioning status of an upload and, once ready, its caption tracks."""
    gateway = gateway_of(request)
    status = video_status(gateway.store, video_id, gateway.base_url(request))
    return JSONResponse(status, headers={"Cache-Control": "no-store"})


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
    check_video_id(video_id)
    store = gateway_of(request).store
    key = upload_key_of(store, video_id)
    if key is None:
        raise ApiError(404, "not_found", f"no upload for video {video_id!r}")
    return serve_object(store, key, request, content_type_for(key), SOURCE_CACHE)


def get_captions(video_id: str, lang: str, fmt: str, request: Request) -> Response:
    check_video_id(video_id)
    if not _LANGUAGE_RE.fullmatch(lang):
        raise ApiError(400, ErrorCode.INVALID_EVENT, f"{lang[:40]!r} is not a language code")
    gateway = gateway_of(request)
    key = caption_key(video_id, f"{lang}.{fmt}")
    cache = caption_cache(gateway.settings.caption_max_age_s)
    return serve_object(gateway.store, key, request, content_type_for(key), cache)


caption_doc = {
    "tags": ["origin"],
    "response_class": Response,
    "responses": {304: {"description": "not modified"}, **error_responses(400, 404, 416)},
}


@router.get("/v1/videos/{video_id}/captions/{lang}.vtt", **caption_doc)  # type: ignore[arg-type]
def get_vtt(video_id: str, lang: str, request: Request) -> Response:
    """A WebVTT caption track (text/vtt), cacheable, loadable cross-origin by <track>."""
    return get_captions(video_id, lang, "vtt", request)


@router.get("/v1/videos/{video_id}/captions/{lang}.srt", **caption_doc)  # type: ignore[arg-type]
def get_srt(video_id: str, lang: str, request: Request) -> Response:
    """A SubRip caption track (application/x-subrip)."""
    return get_captions(video_id, lang, "srt", request)


def preflight() -> Response:
    return Response(status_code=204, headers=PREFLIGHT_HEADERS)


for path in (
    "/v1/videos/{video_id}/source",
    "/v1/videos/{video_id}/captions/{lang}.vtt",
    "/v1/videos/{video_id}/captions/{lang}.srt",
):
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
    check_video_id(video_id)
    gateway = gateway_of(request)
    key = caption_key(video_id, "transcript.json")
    cache = caption_cache(gateway.settings.caption_max_age_s)
    return serve_object(gateway.store, key, request, "application/json", cache)


def video_status(store: ObjectStore, video_id: str, base: str) -> dict[str, Any]:
    """The status document of a video: processing, ready (with its tracks) or failed."""
    check_video_id(video_id)
    manifest = stored_manifest(store, video_id)
    upload = upload_key_of(store, video_id)
    if manifest is None and upload is None:
        raise ApiError(404, "not_found", f"no video {video_id!r}")
    video_url = f"{base}/v1/videos/{video_id}"
    status: dict[str, Any] = {
        "video_id": video_id,
        "name": upload.rpartition("/")[2] if upload else None,
        "status": "processing" if manifest is None else manifest.status,
        "language": None,
        "duration_s": None,
        "tracks": [],
        "error": None,
        "source_url": f"{video_url}/source" if upload else None,
        "watch_url": f"{base}/watch/{video_id}",
    }
    if manifest is not None and manifest.status == "ready":
        status["language"] = manifest.language
        status["duration_s"] = manifest.duration_s
        status["tracks"] = [
            {
                "language": t.language,
                "kind": t.kind,
                "format": t.format,
                "url": f"{video_url}/captions/{t.language}.{t.format}",
            }
            for t in manifest.tracks
            if t.format in CAPTION_FORMATS and _LANGUAGE_RE.fullmatch(t.language)
        ]
    elif manifest is not None and manifest.error is not None:
        status["error"] = manifest.error.to_dict()
    return status


def check_video_id(video_id: str) -> None:
    if not is_safe_video_id(video_id):
        raise ApiError(
            400,
            ErrorCode.INVALID_EVENT,
            "not a video id: 1-128 ASCII letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, never '..'",
        )


def stored_manifest(store: ObjectStore, video_id: str) -> Manifest | None:
    """The video's manifest; None while it is being captioned."""
    try:
        return Manifest.from_json(store.get_bytes(manifest_key(video_id)))
    except FileNotFoundError:
        return None


def upload_key_of(store: ObjectStore, video_id: str) -> str | None:
    """The key of the video's upload, None when there is none."""
    return next(iter(store.list(uploads_prefix(video_id))), None)


def serve_object(
    store: ObjectStore, key: str, request: Request, content_type: str, cache_control: str
) -> Response:
    """The object at `key` as the origin serves it: ranges, ETag (304), CORS; 404 if absent."""
    try:
        info = store.stat(key)
    except FileNotFoundError:
        raise ApiError(404, "not_found", "no such file") from None
    try:
        return object_response(
            store,
            key,
            info,
            request.headers,
            content_type=content_type,
            cache_control=cache_control,
        )
    except RangeNotSatisfiable as exc:
        raise ApiError(
            416, RANGE_NOT_SATISFIABLE, str(exc), {"Content-Range": f"bytes */{exc.size}"}
        ) from None
