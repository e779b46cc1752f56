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
CONFLICT: Final = "conflict"
INVALID_CAPTIONS: Final = "invalid_captions"
PRECONDITION_FAILED: Final = "precondition_failed"
PRECONDITION_REQUIRED: Final = "precondition_required"

HTTP_CODES: Final = {
    401: UNAUTHORIZED,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    409: CONFLICT,
    412: PRECONDITION_FAILED,
    413: PAYLOAD_TOO_LARGE,
    428: PRECONDITION_REQUIRED,
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
    name: str | None  # the upload's file name
    status: Literal["processing", "ready", "failed"]
    language: str | None
    duration_s: float | None
    tracks: list[Track]
    error: ErrorDetail | None
    source_url: str | None
    watch_url: str


class CaptionUrls(BaseModel):
    vtt: str
    srt: str


class CaptionEntry(BaseModel):
    language: str
    label: str  # the language's name in itself: "Deutsch", "日本語"
    kind: Literal["captions", "subtitles"]
    generated: bool  # made by a model (true) or a person (false)
    status: Literal["ready", "generating", "failed"]
    revision: int | None
    etag: str | None  # for If-Match
    updated_at: str | None
    url: str  # this track in the captions API
    urls: CaptionUrls | None  # the files the origin serves (none while first being made)
    error: ErrorDetail | None  # why making it again failed


class CaptionList(BaseModel):
    captions: list[CaptionEntry]


class Cue(BaseModel):
    start: float
    end: float
    text: str


class CaptionRulesDoc(BaseModel):
    max_chars_per_line: int
    max_lines: int
    min_duration_s: float
    max_duration_s: float
    min_gap_s: float
    max_chars_per_second: float
    half_width_weight: float


class CaptionTrack(CaptionEntry):
    cues: list[Cue] = []
    rules: CaptionRulesDoc | None = None


class GenerateAccepted(BaseModel):
    video_id: str
    language: str
    status: Literal["generating"]
    captions_url: str


class RevisionEntry(BaseModel):
    revision: int
    generated: bool
    kind: Literal["captions", "subtitles"]
    current: bool
    updated_at: str
    url: str


class RevisionList(BaseModel):
    revisions: list[RevisionEntry]


class GatewayInfo(BaseModel):
    api_key_required: bool
    api_key_accepted: bool | None  # whether this request's key is one (None: no key given/set)
    max_upload_bytes: int
    max_caption_bytes: int
    languages: list[dict[str, str]]  # code, name, native_name: what Whisper speaks
    translate_to: list[str]


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses` entries for these error statuses."""
    return {status: {"model": ErrorBody} for status in statuses}
