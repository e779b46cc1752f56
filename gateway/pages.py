"""The pages: `/` (upload a video) and `/watch/{id}` (the player, the transcript panel and the
caption editor), plain HTML, CSS and JavaScript files from `gateway/static/`.

They are files, not templates: nothing a person or a model wrote is ever put into them here.
Their scripts fetch the JSON API (what any `curl` user has) and build the page from it with
`textContent` and form values only; a strict Content-Security-Policy (no inline script or
style, nothing from another origin) stops anything else from running. Served with ETags.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.context import gateway_of
from gateway.origin import etag_matches, quoted
from gateway.params import check_video_id
from gateway.responses import NOT_FOUND, ApiError
from library.videos import stored_manifest, upload_key_of

STATIC_DIR: Final = Path(__file__).with_name("static")
CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
CONTENT_SECURITY_POLICY: Final = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",  # kept, but asked again (304) so a new release shows at once
}

router = APIRouter(tags=["pages"])


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    etag: str
    content_type: str


@functools.cache
def static_files() -> dict[str, StaticFile]:
    """Every file of `gateway/static/`, by name, read once."""
    files = {}
    for path in sorted(STATIC_DIR.iterdir()):
        if path.is_file() and path.suffix in CONTENT_TYPES:
            body = path.read_bytes()
            etag = hashlib.sha256(body).hexdigest()[:20]
            files[path.name] = StaticFile(body, etag, CONTENT_TYPES[path.suffix])
    return files


@router.get("/", response_class=Response, responses={200: {"content": {"text/html": {}}}})
def upload_page(request: Request) -> Response:
    """The upload page: pick or drop a video, its language and vocabulary, and watch it go."""
    return _file("upload.html", request)


@router.get(
    "/watch/{video_id}", response_class=Response, responses={200: {"content": {"text/html": {}}}}
)
def watch_page(video_id: str, request: Request) -> Response:
    """The player page: the video with every caption track, its transcript beside it, and the
    caption editor (for whoever has the API key). 404 (the same page, saying so) for no video."""
    check_video_id(video_id)
    store = gateway_of(request).store
    exists = upload_key_of(store, video_id) or stored_manifest(store, video_id)
    return _file("watch.html", request, 200 if exists else 404)


@router.get("/static/{name}", response_class=Response, include_in_schema=False)
def static(name: str, request: Request) -> Response:
    if name not in static_files():
        raise ApiError(404, NOT_FOUND, "no such file")
    return _file(name, request)


def _file(name: str, request: Request, status: int = 200) -> Response:
    file = static_files()[name]
    headers = {**PAGE_HEADERS, "ETag": quoted(file.etag)}
    if status == 200 and etag_matches(request.headers.get("if-none-match"), file.etag):
        return Response(status_code=304, headers=headers)
    return Response(file.body, status_code=status, media_type=file.content_type, headers=headers)
