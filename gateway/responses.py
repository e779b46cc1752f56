"""The gateway's JSON documents (they make its OpenAPI document) and its HTTP errors.

Errors are `{"error": {"code": ..., "message": ...}}` with the project's error vocabulary
(`invalid_event` for a bad id or parameter) plus the HTTP-only codes below.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel

UNAUTHORIZED: Final = "unauthorized"
NOT_FOUND: Final = "not_found"
METHOD_NOT_ALLOWED: Final = "method_not_allowed"
PAYLOAD_TOO_LARGE: Final = "payload_too_large"
UNSUPPORTED_MEDIA_TYPE: Final = "unsupported_media_type"
RANGE_NOT_SATISFIABLE: Final = "range_not_satisfiable"
UNAVAILABLE: Final = "unavailable"

HTTP_CODES: Final = {
    401: UNAUTHORIZED,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    413: PAYLOAD_TOO_LARGE,
}


class ApiError(Exception):
    """An answer other than success: HTTP status, error code, message, extra headers."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class UploadAccepted(BaseModel):
    video_id: str
    status_url: str


class Track(BaseModel):
    language: str
    kind: Literal["captions", "subtitles"]
    format: Literal["vtt", "srt"]
    url: str


class VideoStatus(BaseModel):
    video_id: str
    status: Literal["processing", "ready", "failed"]
    language: str | None
    duration_s: float | None
    tracks: list[Track]
    error: ErrorDetail | None
    source_url: str | None
    watch_url: str


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses` entries for these error statuses."""
    return {status: {"model": ErrorBody} for status in statuses}
