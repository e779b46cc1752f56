"""Who may read a video: anyone, for a public one; for a private one, the holder of an API key
or of a playback token bound to it (`gateway.tokens`), given as `?token=` (what a `<video>` or
`<track>` can send) or as `Authorization: Bearer <token>`.

Without either, a private video is answered 404, as a video that does not exist is, so a
private id is not confirmed to strangers; and what it is answered is never kept by a shared
cache (`Cache-Control: private`).
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

from fastapi import Request

from gateway.context import api_key_accepted, gateway_of
from gateway.params import check_video_id
from gateway.responses import NOT_FOUND, ApiError
from gateway.tokens import accepts
from library.catalog import is_private

# A browser may keep a private answer a minute; a shared cache never.
PRIVATE_CACHE: Final = "private, max-age=60"


def check_read(request: Request, video_id: str) -> bool:
    """Whether the video is private, once the request is found to may read it; 404 when it
    may not."""
    check_video_id(video_id)
    gateway = gateway_of(request)
    if not is_private(gateway.store, video_id):
        return False
    if api_key_accepted(request) is True:
        return True
    token = request.query_params.get("token") or _bearer(request)
    client = request.client.host if request.client else None
    if token and accepts(
        gateway.settings.tokens, token, video_id, ip=client, origin=_origin(request)
    ):
        return True
    raise ApiError(404, NOT_FOUND, f"no video {video_id!r}")


def cache_control(private: bool, public: str) -> str:
    """The Cache-Control of an answer: `public` unless the video is private."""
    return PRIVATE_CACHE if private else public


def _bearer(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return (
        credentials.strip() if scheme.lower() == "bearer" and credentials.count(".") == 2 else None
    )


def _origin(request: Request) -> str | None:
    """The page's origin: the Origin header, else the Referer's scheme and host."""
    origin = request.headers.get("origin")
    if origin:
        return origin
    referer = urlsplit(request.headers.get("referer", ""))
    return f"{referer.scheme}://{referer.netloc}" if referer.scheme and referer.netloc else None
