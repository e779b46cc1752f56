"""The HTTP gateway (steps 1, 5 and 6 of the reference architecture): uploads in, events out,
status, origin for the video and its captions, and the player page.

    POST /v1/videos                          the media as the body -> 202 {video_id, status_url}
    GET  /v1/videos/{id}                     processing | ready (tracks) | failed (error)
    GET  /v1/videos/{id}/source              the upload (Range, ETag)
    GET  /v1/videos/{id}/captions/{lang}.vtt|.srt
    GET  /watch/{id}                         player page
    GET  /healthz, /openapi.json

Storage calls are blocking, so routes that make them are plain functions (run in a thread
pool); the upload route is async to stream the body and hands its blocking steps to threads.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import Message
from typing import Annotated, Any, Final

from confluent_kafka import KafkaException
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from connectors.kafka import EventPublisher, KafkaConfig, KafkaDeliveryError
from connectors.storage import (
    ObjectStore,
    UploadSpool,
    caption_key,
    manifest_key,
    open_store,
    upload_key,
)
from gateway.media_types import SNIFF_BYTES, content_type_for, safe_file_name, sniff_extension
from gateway.origin import (
    CAPTION_CACHE,
    PREFLIGHT_HEADERS,
    SOURCE_CACHE,
    RangeNotSatisfiable,
    object_response,
)
from gateway.player import watch_page
from gateway.responses import (
    HTTP_CODES,
    PAYLOAD_TOO_LARGE,
    RANGE_NOT_SATISFIABLE,
    UNAUTHORIZED,
    UNAVAILABLE,
    UNSUPPORTED_MEDIA_TYPE,
    ApiError,
    UploadAccepted,
    VideoStatus,
    error_responses,
)
from schemas.errors import CaptionError, ErrorCode
from schemas.events import UploadRequest, is_safe_video_id, utc_timestamp
from schemas.manifest import Manifest

log = logging.getLogger("autocaption.gateway")

DEFAULT_MAX_UPLOAD_BYTES: Final = 2 * 2**30
CAPTION_FORMATS: Final = ("vtt", "srt")
_LANGUAGE_RE: Final = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,3}")


@dataclass(frozen=True)
class GatewaySettings:
    """What `autocaption serve` configures. No `api_keys`: uploads are open (development)."""

    storage: str
    kafka: KafkaConfig
    uploaded_topic: str = "video.uploaded"
    api_keys: tuple[str, ...] = ()
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    public_url: str | None = None  # base of the URLs in answers; default: the request's
    tmp_dir: str | None = None  # where upload bodies are spooled


def create_app(settings: GatewaySettings) -> FastAPI:
    """The gateway as an ASGI app. Its event producer is made at startup, closed at shutdown."""
    store = open_store(settings.storage)
    state: dict[str, EventPublisher] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state["publisher"] = EventPublisher(settings.kafka)
        try:
            yield
        finally:
            await run_in_threadpool(state.pop("publisher").close)

    app = FastAPI(
        title="autocaption gateway",
        version="1",
        summary="Upload videos, follow their captioning, serve the video and its captions.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads from a CDN; the document itself is /openapi.json
        redoc_url=None,
        redirect_slashes=False,  # never answer a path with a redirect to another path
    )
    app.add_middleware(RequestLog)
    _add_error_handlers(app)

    def base_url(request: Request) -> str:
        return (settings.public_url or str(request.base_url)).rstrip("/")

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """Liveness: answers without touching storage or the broker."""
        return {"status": "ok"}

    @app.post(
        "/v1/videos",
        status_code=202,
        response_model=UploadAccepted,
        tags=["videos"],
        responses=error_responses(400, 401, 413, 415, 503),
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "The media file itself (audio or video; told from its bytes).",
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        },
    )
    async def upload_video(
        request: Request,
        language: Annotated[
            str | None, Query(description="spoken language; default: detect")
        ] = None,
        translate_to: Annotated[
            str | None, Query(description="e.g. 'en' (comma-separated)")
        ] = None,
        video_id: Annotated[str | None, Query(description="default: a new random id")] = None,
        name: Annotated[
            str | None, Query(description="file name; default: Content-Disposition")
        ] = None,
        hotwords: Annotated[
            str | None,
            Query(
                description="words and names the speech holds, spelled as they must be "
                "written (e.g. 'ComfyUI, Kubernetes'); at most 500 characters",
            ),
        ] = None,
        initial_prompt: Annotated[
            str | None,
            Query(
                description="text the model reads as if said just before the speech "
                "(Whisper's initial prompt); at most 1000 characters",
            ),
        ] = None,
    ) -> JSONResponse:
        """Store the body under `videos/<video_id>/<name>` and publish `video.uploaded`."""
        _check_api_key(request, settings.api_keys)  # before a byte of the body is read
        limit = settings.max_upload_bytes
        announced = request.headers.get("content-length")
        if announced is not None and (not announced.isdigit() or int(announced) > limit):
            if not announced.isdigit():
                raise ApiError(400, ErrorCode.INVALID_EVENT, "Content-Length is not a number")
            raise _too_large(limit)
        video_id = video_id if video_id is not None else f"v{uuid.uuid4().hex[:16]}"
        translate = tuple(t.strip() for t in (translate_to or "").split(",") if t.strip())
        vocabulary = (hotwords, initial_prompt)
        _event(store, video_id, "upload", language, translate, vocabulary)  # refuse bad ones now
        with UploadSpool(limit, settings.tmp_dir) as spool:
            head = b""
            extension: str | None = None
            async for chunk in request.stream():
                if extension is None:
                    head += chunk[: SNIFF_BYTES - len(head)]
                    if len(head) >= SNIFF_BYTES:
                        extension = _sniffed(head)
                try:
                    spool.write(chunk)  # local disk: brief enough for the event loop
                except OverflowError:
                    raise _too_large(limit) from None
            extension = extension or _sniffed(head)
            file_name = safe_file_name(name or _disposition_name(request), extension)
            key = upload_key(video_id, file_name)
            source = await run_in_threadpool(spool.store, store, key, content_type_for(file_name))
        await run_in_threadpool(_forget_older_versions, store, video_id, key)
        event = _event(store, video_id, file_name, language, translate, vocabulary, source)
        try:
            await run_in_threadpool(
                state["publisher"].publish,
                settings.uploaded_topic,
                video_id,
                event.to_json().encode("utf-8"),
            )
        except (KafkaDeliveryError, KafkaException) as exc:
            log.error("upload %s stored but not announced: %s", video_id, exc)
            raise ApiError(
                503, UNAVAILABLE, "the upload was stored but the event broker is unavailable; retry"
            ) from None
        status_url = f"{base_url(request)}/v1/videos/{video_id}"
        return JSONResponse(
            {"video_id": video_id, "status_url": status_url},
            status_code=202,
            headers={"Location": status_url, "Cache-Control": "no-store"},
        )

    def video_status(video_id: str, base: str) -> dict[str, Any]:
        _check_video_id(video_id)
        manifest = _manifest(store, video_id)
        upload = _upload(store, video_id)
        if manifest is None and upload is None:
            raise ApiError(404, "not_found", f"no video {video_id!r}")
        video_url = f"{base}/v1/videos/{video_id}"
        status: dict[str, Any] = {
            "video_id": video_id,
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

    @app.get(
        "/v1/videos/{video_id}",
        response_model=VideoStatus,
        tags=["videos"],
        responses=error_responses(400, 404),
    )
    def get_video(video_id: str, request: Request) -> JSONResponse:
        """The captioning status of an upload and, once ready, its caption tracks."""
        status = video_status(video_id, base_url(request))
        return JSONResponse(status, headers={"Cache-Control": "no-store"})

    @app.get(
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
        _check_video_id(video_id)
        key = _upload(store, video_id)
        if key is None:
            raise ApiError(404, "not_found", f"no upload for video {video_id!r}")
        return _serve(store, key, request, content_type_for(key), SOURCE_CACHE)

    def get_captions(video_id: str, lang: str, fmt: str, request: Request) -> Response:
        _check_video_id(video_id)
        if not _LANGUAGE_RE.fullmatch(lang):
            raise ApiError(400, ErrorCode.INVALID_EVENT, f"{lang[:40]!r} is not a language code")
        key = caption_key(video_id, f"{lang}.{fmt}")
        return _serve(store, key, request, content_type_for(key), CAPTION_CACHE)

    caption_doc = {
        "tags": ["origin"],
        "response_class": Response,
        "responses": {304: {"description": "not modified"}, **error_responses(400, 404, 416)},
    }

    @app.get("/v1/videos/{video_id}/captions/{lang}.vtt", **caption_doc)  # type: ignore[arg-type]
    def get_vtt(video_id: str, lang: str, request: Request) -> Response:
        """A WebVTT caption track (text/vtt), cacheable, loadable cross-origin by <track>."""
        return get_captions(video_id, lang, "vtt", request)

    @app.get("/v1/videos/{video_id}/captions/{lang}.srt", **caption_doc)  # type: ignore[arg-type]
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
        app.add_api_route(path, preflight, methods=["OPTIONS"], include_in_schema=False)

    @app.get("/watch/{video_id}", response_class=HTMLResponse, tags=["player"])
    def watch(video_id: str, request: Request) -> HTMLResponse:
        """A player page: the video with every caption track and a language menu."""
        base = base_url(request)
        status = video_status(video_id, base)
        page = watch_page(
            video_id,
            status,
            status["source_url"] or "",
            f"{base}/v1/videos/{video_id}",
        )
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    return app


# --- pieces of the routes ---------------------------------------------------------------------


def _check_api_key(request: Request, keys: tuple[str, ...]) -> None:
    """401 unless the request carries one of `keys` (compared in constant time)."""
    if not keys:
        return
    given = request.headers.get("x-api-key", "")
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        given = credentials.strip()
    matched = False
    for key in keys:  # every key is compared, so the time says nothing about which matched
        matched |= hmac.compare_digest(given.encode("utf-8"), key.encode("utf-8"))
    if not matched:
        raise ApiError(
            401,
            UNAUTHORIZED,
            "a valid API key is required (Authorization: Bearer <key>)",
            {"WWW-Authenticate": "Bearer"},
        )


def _check_video_id(video_id: str) -> None:
    if not is_safe_video_id(video_id):
        raise ApiError(
            400,
            ErrorCode.INVALID_EVENT,
            "not a video id: 1-128 ASCII letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, never '..'",
        )


def _event(
    store: ObjectStore,
    video_id: str,
    file_name: str,
    language: str | None,
    translate_to: tuple[str, ...],
    vocabulary: tuple[str | None, str | None] = (None, None),
    source: str | None = None,
) -> UploadRequest:
    """The `video.uploaded` event; 400 `invalid_event` for a bad id or parameter.

    `vocabulary`: (hotwords, initial prompt); empty strings count as not given."""
    _check_video_id(video_id)
    hotwords, initial_prompt = vocabulary
    try:
        return UploadRequest(
            video_id=video_id,
            source=source or store.uri(upload_key(video_id, file_name)),
            language=language,
            translate_to=translate_to,
            event_id=str(uuid.uuid4()),
            occurred_at=utc_timestamp(),
            hotwords=hotwords or None,
            initial_prompt=initial_prompt or None,
        )
    except CaptionError as exc:
        raise ApiError(400, exc.code, exc.message) from None


def _sniffed(head: bytes) -> str:
    extension = sniff_extension(head)
    if extension is None:
        what = "the body is empty" if not head else "the body is not audio or video"
        raise ApiError(415, UNSUPPORTED_MEDIA_TYPE, f"{what} (told from its first bytes)")
    return extension


def _too_large(limit: int) -> ApiError:
    return ApiError(413, PAYLOAD_TOO_LARGE, f"the body is over the {limit}-byte limit")


def _disposition_name(request: Request) -> str | None:
    header = request.headers.get("content-disposition")
    if not header:
        return None
    message = Message()
    message["content-disposition"] = header
    name = message.get_filename()
    return str(name) if name else None


def _manifest(store: ObjectStore, video_id: str) -> Manifest | None:
    try:
        return Manifest.from_json(store.get_bytes(manifest_key(video_id)))
    except FileNotFoundError:
        return None


def _upload(store: ObjectStore, video_id: str) -> str | None:
    """The key of the video's upload, None when there is none."""
    return next(iter(store.list(f"videos/{video_id}/")), None)


def _forget_older_versions(store: ObjectStore, video_id: str, key: str) -> None:
    """A new upload under an existing id replaces the old file and its captions' manifest, so
    the status says `processing` and the stream service captions the new file."""
    for old in store.list(f"videos/{video_id}/"):
        if old != key:
            store.delete(old)
    store.delete(manifest_key(video_id))


def _serve(
    store: ObjectStore, key: str, request: Request, content_type: str, cache_control: str
) -> Response:
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


# --- errors and logs --------------------------------------------------------------------------


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": str(code), "message": message}},
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(400, ErrorCode.INVALID_EVENT, f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, ErrorCode.INTERNAL, f"internal error ({type(exc).__name__})")


class RequestLog:
    """One log line per request: method, path, status and duration (to the last byte)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: AsgiMessage) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            path = scope.get("raw_path", b"").decode("latin-1") or scope["path"]
            log.info(
                "%s %s %d %.1f ms",
                scope["method"],
                path,
                status,
                duration_ms,
                extra={
                    "method": scope["method"],
                    "path": path,
                    "status": status,
                    "duration_ms": duration_ms,
                },
            )
