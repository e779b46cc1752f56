"""The HTTP gateway: uploads in, events out, status, the origin for the video and its captions,
the captions API, and the pages.

    POST /v1/videos                                   `gateway/uploads.py`
    GET  /v1/videos, DELETE /v1/videos/{id}, POST /v1/videos/{id}/token
                                                      `gateway/catalog.py`
    GET  /v1/videos/{id}, .../source, .../captions/{lang}.{format}, .../transcript
                                                      `gateway/videos.py`
    GET|PUT|DELETE /v1/videos/{id}/captions[/{lang}[/generate|/revisions]]
                                                      `gateway/captions.py`
    GET  /, /watch/{id}, /static/...                  `gateway/pages.py`
    GET  /v1/info, /healthz, /openapi.json            here

This module wires them: settings, the store and the event producer (made at startup, closed at
shutdown) on `app.state`, error documents, one log line per request. What the routes share is
in modules of its own: the checks of what a request names (`params`), its events
(`publishing`), the origin's responses (`origin`) and every answer's model (`responses`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from connectors.kafka.write import EventPublisher
from connectors.storage import open_store
from connectors.translators import TranslatorPool
from connectors.translators.routes import known_targets
from gateway import captions, catalog, pages, uploads, videos
from gateway.context import Gateway, GatewaySettings, api_key_accepted
from gateway.responses import (
    HTTP_CODES,
    INVALID_REQUEST,
    ApiError,
    FormatEntry,
    GatewayInfo,
    Health,
    Language,
    TranslationTarget,
    answer,
)
from schemas.errors import ErrorCode
from schemas.formats import TRACK_FORMATS
from schemas.languages import WHISPER_LANGUAGES

log = logging.getLogger("autocaption.gateway")

__all__ = ["GatewaySettings", "create_app"]


def create_app(settings: GatewaySettings) -> FastAPI:
    """The gateway as an ASGI app; `ValueError` for a storage URL it cannot open."""
    store = open_store(settings.storage)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        publisher = EventPublisher(settings.kafka)
        pool = TranslatorPool(settings.translators)
        gateway = Gateway(settings, store, publisher, pool)
        app.state.gateway = gateway
        try:
            yield
        finally:
            await run_in_threadpool(gateway.background.shutdown)  # translations in hand finish
            await run_in_threadpool(publisher.close)

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

    @app.get("/healthz", response_model=Health, tags=["operations"])
    def healthz() -> JSONResponse:
        """Liveness: answers without touching storage or the broker."""
        return answer(Health(status="ok"))

    @app.get("/v1/info", response_model=GatewayInfo, tags=["operations"])
    def info(request: Request) -> JSONResponse:
        """What a client needs before it uploads: whether writes need an API key (and whether
        the key this request carries is one), the size limits, the languages Whisper speaks
        (code, English name, native name), the subtitle languages the translators make (by native
        name), the caption formats every track is served in, and whether it issues playback
        tokens (so a private upload can be watched in its pages)."""
        return answer(
            GatewayInfo(
                api_key_required=bool(settings.api_keys),
                api_key_accepted=api_key_accepted(request),
                max_upload_bytes=settings.max_upload_bytes,
                max_caption_bytes=captions.MAX_CAPTION_BYTES,
                languages=[
                    Language(code=lang.code, name=lang.name, native_name=lang.native_name)
                    for lang in WHISPER_LANGUAGES
                ],
                translate_to=[
                    TranslationTarget(code=code, native_name=name)
                    for code, name in known_targets(settings.translators)
                ],
                translators=[spec.label for spec in settings.translators],
                formats=[
                    FormatEntry(name=f.name, title=f.title, media_type=f.media_type)
                    for f in TRACK_FORMATS
                    if f.cues
                ],
                issues_tokens=settings.tokens.can_issue,
            )
        )

    app.include_router(uploads.router)
    app.include_router(catalog.router)
    app.include_router(videos.router)  # before captions: ".../captions/en.vtt" is the origin's
    app.include_router(captions.router)
    app.include_router(pages.router)
    return app


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
        return _error(400, INVALID_REQUEST, f"{where}: {first.get('msg', 'invalid')}")

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
