"""The gateway's JSON documents and its HTTP errors.

Every answer is built from these models (`answer`), and the same models make the OpenAPI
document, so the document cannot drift from the answers. Errors are
`{"error": {"code": ..., "message": ...}}`: `invalid_request` for a bad id, parameter or header,
and the HTTP-specific codes below (`invalid_event` is the code of a bad event on Kafka, never of
a request).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, create_model

from schemas.formats import CAPTION_FORMATS

INVALID_REQUEST: Final = "invalid_request"
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
    400: INVALID_REQUEST,
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


# The caption formats of the registry, as the OpenAPI document lists them.
CaptionFormat = StrEnum("CaptionFormat", {name: name for name in CAPTION_FORMATS})  # type: ignore[misc]


class Track(BaseModel):
    language: str
    kind: Literal["captions", "subtitles"]
    format: CaptionFormat
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
    private: bool = False  # every read needs a signed token or the API key
    uploaded_at: str | None = None


class VideoSummary(BaseModel):
    """One video of the library's list."""

    video_id: str
    name: str
    status: Literal["processing", "ready", "failed"]
    uploaded_at: str
    private: bool
    language: str | None
    duration_s: float | None
    languages: list[str]  # the languages of its caption tracks, the spoken one first
    tracks: list[Track]
    error: ErrorDetail | None
    status_url: str
    watch_url: str


class VideoList(BaseModel):
    videos: list[VideoSummary]
    # Pass as `cursor` for the next page; null on the last one. A filtered page may hold fewer
    # videos than asked for (it examines a bounded number) and still have a next one.
    next_cursor: str | None


class TokenRequest(BaseModel):
    ttl_s: int = 3600  # 1 s to 7 days
    ip: str | None = None  # only this client address may use it
    origins: list[str] | None = None  # only pages of these origins may use it


class PlaybackToken(BaseModel):
    video_id: str
    token: str
    expires_at: str
    query: str  # "token=...": add it to any read URL of the video (<video src>, <track src>)


# A track's file in each caption format of the registry.
CaptionUrls: Any = create_model(
    "CaptionUrls",
    **{name: (str, ...) for name in CAPTION_FORMATS},  # type: ignore[call-overload]
)


class TrackSourceDoc(BaseModel):
    language: str  # the track it was translated from
    revision: int  # that track's revision it was made from
    translator: str  # "firefox", "whisper", "whisper+firefox", "ctranslate2:m2m100_418M"
    via: str | None = None  # the language it went through ("en")


class TranscriptAccepted(BaseModel):
    transcript_id: str  # for POST /v1/videos?transcript_id=...
    words: int  # the words it holds (split at spaces)


class CaptionEntry(BaseModel):
    language: str
    label: str  # the language's name in itself: "Deutsch", "日本語"
    kind: Literal["captions", "subtitles"]
    generated: bool  # made by a model (true) or a person (false)
    # who made it: a model, a person, or a person's words timed by alignment ("aligned")
    maker: Literal["model", "person", "aligned"] = "model"
    aligned: int | None = None  # an aligned track: words alignment placed
    interpolated: int | None = None  # an aligned track: words with no speech, interpolated
    status: Literal["ready", "generating", "failed"]
    revision: int | None
    etag: str | None  # for If-Match
    updated_at: str | None
    url: str  # this track in the captions API
    urls: CaptionUrls | None  # the files the origin serves (none while first being made)
    error: ErrorDetail | None  # why making it (again) failed
    source: TrackSourceDoc | None = None  # a translation: what it was made from, and by what
    stale: bool = False  # a translation whose source track changed since it was made


class CaptionList(BaseModel):
    captions: list[CaptionEntry]


class Cue(BaseModel):
    start: float
    end: float
    text: str  # what a viewer reads (line breaks as "\n"; what the caption rules count)
    markup: str  # the same with a person's markup, in the editor's notation: <i>...</i>
    warnings: list[str]  # the caption rules of its language it breaks (as the editor says)


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


class Language(BaseModel):
    code: str
    name: str  # in English
    native_name: str  # in the language itself


class FormatEntry(BaseModel):
    name: str  # also the file extension
    title: str
    media_type: str


class TranslationTarget(BaseModel):
    code: str  # BCP 47: "pt-BR"
    native_name: str  # "Português (Brasil)"


class GatewayInfo(BaseModel):
    api_key_required: bool
    api_key_accepted: bool | None  # whether this request's key is one (None: no key given/set)
    max_upload_bytes: int
    max_caption_bytes: int
    languages: list[Language]  # what Whisper speaks
    translate_to: list[TranslationTarget]  # the subtitle languages the translators make
    translators: list[str]  # the configured text translators, in order of preference
    formats: list[FormatEntry]  # the caption formats every track is served in
    # whether the gateway issues playback tokens (a signing key): a private upload can then be
    # watched in its pages
    issues_tokens: bool = False


class Health(BaseModel):
    status: Literal["ok"]


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses` entries for these error statuses."""
    return {status: {"model": ErrorBody} for status in statuses}


def answer(
    document: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON answer of one of these models (`Cache-Control: no-store` unless told)."""
    return JSONResponse(
        document.model_dump(mode="json"),
        status_code=status_code,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )
