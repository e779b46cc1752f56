"""The origin part of the gateway: objects from storage as cacheable HTTP responses with
single byte ranges, ETags and CORS, streamed (a video is never read into memory)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from email.utils import format_datetime
from typing import BinaryIO, Final

from starlette.responses import Response, StreamingResponse

from connectors.storage.store import ObjectInfo, ObjectStore
from gateway.responses import NOT_FOUND, RANGE_NOT_SATISFIABLE, ApiError

READ_CHUNK_BYTES: Final = 256 * 1024

# Captions change (a person's edit, a track made again): a CDN keeps them only briefly and then
# asks again with If-None-Match, so an edit reaches viewers within the max-age.
SOURCE_CACHE: Final = "public, max-age=86400"  # an upload never changes under its key
IMMUTABLE_CACHE: Final = "public, max-age=31536000, immutable"  # a kept revision never changes


def caption_cache(max_age_s: int) -> str:
    """Cache-Control of a caption track: public, for at most `max_age_s` seconds."""
    return f"public, max-age={max_age_s}"


# Any page may load captions into a <track> (and the video with crossorigin="anonymous").
CORS_HEADERS: Final = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range, Accept-Ranges, ETag",
}
PREFLIGHT_HEADERS: Final = {
    **CORS_HEADERS,
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Range, If-None-Match, If-Range",
    "Access-Control-Max-Age": "86400",
}

_RANGE_RE: Final = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class RangeNotSatisfiable(Exception):
    """The Range names no byte of the object (answered 416 with `bytes */size`)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"no byte of the range is in the object of {size} bytes")
        self.size = size


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single-range `Range` header, or None to send everything.

    A header that is not one well-formed byte range (several ranges, other units, garbage) is
    ignored, as RFC 9110 allows; a well-formed range outside the object raises
    `RangeNotSatisfiable`.
    """
    if not header:
        return None
    match = _RANGE_RE.match(header)
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":  # "-N": the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - suffix), size - 1
    start = int(first)
    if last != "" and int(last) < start:
        return None  # RFC 9110: an invalid range-spec, so the header is ignored
    if start >= size:
        raise RangeNotSatisfiable(size)
    return start, size - 1 if last == "" else min(int(last), size - 1)


def quoted(etag: str) -> str:
    return f'"{etag}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """True when `If-None-Match` names this ETag (weak comparison) or is "*"."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or quoted(etag) in tags


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := stream.read(READ_CHUNK_BYTES):
            yield chunk
    finally:
        stream.close()


def object_response(
    store: ObjectStore,
    key: str,
    info: ObjectInfo,
    request_headers: Mapping[str, str],
    *,
    content_type: str,
    cache_control: str,
) -> Response:
    """200 (whole object), 206 (one range) or 304 (ETag matches) for the object at `key`.

    Raises `RangeNotSatisfiable` for a range outside the object.
    """
    headers = {
        **CORS_HEADERS,
        "ETag": quoted(info.etag),
        "Last-Modified": format_datetime(info.modified, usegmt=True),
        "Cache-Control": cache_control,
        "Accept-Ranges": "bytes",
    }
    if etag_matches(request_headers.get("if-none-match"), info.etag):
        return Response(status_code=304, headers=headers)
    if_range = request_headers.get("if-range")
    wanted = None if if_range and if_range != quoted(info.etag) else request_headers.get("range")
    byte_range = parse_range(wanted, info.size)
    if byte_range is None:
        start, end, status = 0, info.size - 1, 200
    else:
        (start, end), status = byte_range, 206
        headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
    headers["Content-Length"] = str(end - start + 1)
    if info.size == 0:
        return Response(b"", status_code=200, headers=headers, media_type=content_type)
    body = _chunks(store.open_range(key, start, end))
    return StreamingResponse(body, status_code=status, headers=headers, media_type=content_type)


def rendered_response(
    text: str,
    etag: str,
    request_headers: Mapping[str, str],
    *,
    content_type: str,
    cache_control: str,
) -> Response:
    """A document made on request (not stored) as the origin serves one: ETag (304), CORS."""
    headers = {**CORS_HEADERS, "ETag": quoted(etag), "Cache-Control": cache_control}
    if etag_matches(request_headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(text.encode("utf-8"), headers=headers, media_type=content_type)


def serve_object(
    store: ObjectStore,
    key: str,
    request_headers: Mapping[str, str],
    *,
    content_type: str,
    cache_control: str,
) -> Response:
    """The object at `key` as the origin serves it: ranges, ETag (304), CORS; 404 if absent,
    416 for a range outside it."""
    try:
        info = store.stat(key)
    except FileNotFoundError:
        raise ApiError(404, NOT_FOUND, "no such file") from None
    try:
        return object_response(
            store,
            key,
            info,
            request_headers,
            content_type=content_type,
            cache_control=cache_control,
        )
    except RangeNotSatisfiable as exc:
        raise ApiError(
            416, RANGE_NOT_SATISFIABLE, str(exc), {"Content-Range": f"bytes */{exc.size}"}
        ) from None
