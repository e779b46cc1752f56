"""The error vocabulary shared by the pipeline, the stream service and the gateway.

A bad input is a value (`Failure`) carrying one of these codes; `CaptionError` is how code below
the Beam edge signals such a value, and the DoFn that calls it turns it into a `Failure`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_EVENT = "invalid_event"
    SOURCE_NOT_FOUND = "source_not_found"
    UNSUPPORTED_MEDIA = "unsupported_media"
    NO_AUDIO_STREAM = "no_audio_stream"
    MEDIA_TOO_LONG = "media_too_long"
    INTERNAL = "internal"
    # the video was deleted while it was being captioned, or its upload event was replayed
    # after the delete: nothing is written (captions.failed only)
    VIDEO_DELETED = "video_deleted"
    # the upload's transcript (the words to align) cannot be read or holds no words
    INVALID_TRANSCRIPT = "invalid_transcript"
    # one translated track, not the video: no translator makes the pair, its model could not
    # be loaded, or it failed on the text
    UNSUPPORTED_PAIR = "unsupported_pair"
    MODEL_UNAVAILABLE = "model_unavailable"
    TRANSLATION_FAILED = "translation_failed"


class CaptionError(Exception):
    """An expected, per-input problem with an error code (never a bug)."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Failure:
    """One input that could not be captioned, and why."""

    video_id: str | None
    code: ErrorCode
    message: str
    source: str | None = None


def failure_from_exception(
    exc: BaseException, video_id: str | None, source: str | None = None
) -> Failure:
    """The one place that turns an exception into a `Failure` with a code."""
    if isinstance(exc, CaptionError):
        return Failure(video_id, exc.code, exc.message, source)
    return Failure(video_id, ErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}", source)
