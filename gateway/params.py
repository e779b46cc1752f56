"""What a request names, checked before any storage call: the video id, the language, the
caption format, the revision, the preconditions of a write and the size of a body. A bad one is
400 `invalid_request` (413 for a body over its limit)."""

from __future__ import annotations

from typing import Final

from fastapi import Request

from gateway.responses import INVALID_REQUEST, NOT_FOUND, PAYLOAD_TOO_LARGE, ApiError
from schemas.formats import CAPTION_FORMATS, is_caption_format
from schemas.ids import LANGUAGE_CODE_RULE, canonical_language, is_safe_video_id


def check_video_id(video_id: str) -> str:
    """`video_id` if it is one; else 400."""
    if not is_safe_video_id(video_id):
        raise ApiError(
            400,
            INVALID_REQUEST,
            "not a video id: 1-128 ASCII letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, never '..'",
        )
    return video_id


def check_language(lang: str) -> str:
    """The language code in its canonical case (`pt-br` -> `pt-BR`); else 400."""
    code = canonical_language(lang)
    if code is None:
        raise ApiError(400, INVALID_REQUEST, f"{lang[:40]!r} is not {LANGUAGE_CODE_RULE}")
    return code


def check_format(fmt: str) -> str:
    """`fmt` if it is a caption format of the registry; else 404 (no such file)."""
    if not is_caption_format(fmt):
        formats = ", ".join(CAPTION_FORMATS)
        raise ApiError(404, NOT_FOUND, f"no caption format {fmt[:20]!r}; one of {formats}")
    return fmt


def check_revision(revision: int) -> int:
    if revision < 1:
        raise ApiError(400, INVALID_REQUEST, "revisions are numbered from 1")
    return revision


def preconditions(request: Request, allow_none_match: bool = True) -> tuple[str | None, bool]:
    """(If-Match's ETag or "*", If-None-Match: *) of a write; 400 for any other form."""
    if_match = request.headers.get("if-match")
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and (if_none_match.strip() != "*" or not allow_none_match):
        raise ApiError(400, INVALID_REQUEST, "If-None-Match on a write can only be * (a new track)")
    if if_match is not None:
        tags = [t.strip().removeprefix("W/").strip('"') for t in if_match.split(",")]
        if len(tags) != 1 or not tags[0]:
            raise ApiError(400, INVALID_REQUEST, "If-Match takes one ETag")
        return tags[0], False
    return None, if_none_match is not None


async def bounded_body(request: Request, limit: int, what: str) -> bytes:
    """The request's body, at most `limit` bytes (413 beyond, told by Content-Length before
    reading when it can be)."""
    announced = request.headers.get("content-length")
    if announced is not None and announced.isdigit() and int(announced) > limit:
        raise ApiError(413, PAYLOAD_TOO_LARGE, f"{what} is at most {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, PAYLOAD_TOO_LARGE, f"{what} is at most {limit} bytes")
    return bytes(body)


# The OpenAPI body of a transcript (the words to align to the speech).
TRANSCRIPT_BODY: Final = {
    "requestBody": {
        "required": True,
        "description": "The words of the track as they must read: plain UTF-8 text, WebVTT or "
        "SubRip (a caption file's times are ignored; its words are kept).",
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "text/vtt": {"schema": {"type": "string"}},
            "application/x-subrip": {"schema": {"type": "string"}},
        },
    }
}
