"""The Kafka event contracts and the one parser for `video.uploaded`.

`video.uploaded` comes in and is parsed by `parse_upload_event` (or built as an `UploadRequest`
in code, validated the same way); `captions.ready` and `captions.failed` go out. Each is checked
against its JSON Schema file (`schemas.validation`).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, ClassVar, Final, Literal

from schemas.errors import CaptionError, ErrorCode, Failure
from schemas.ids import derived_event_id, is_safe_video_id, validate_video_id
from schemas.languages import is_whisper_language
from schemas.validation import (
    CAPTIONS_FAILED,
    CAPTIONS_READY,
    VIDEO_UPLOADED,
    check_incoming,
    check_outgoing,
    load_json,
    short,
)

RAW_LIMIT: Final = 2048  # characters of the original message kept in captions.failed
MESSAGE_LIMIT: Final = 1000  # characters of an error message kept in events and manifests


def _package_version() -> str:
    try:
        return metadata.version("autocaption")
    except metadata.PackageNotFoundError:  # running from a checkout that is not installed
        return "0+unknown"


PIPELINE_VERSION: Final = _package_version()


def compact_json(event: dict[str, Any]) -> str:
    """An event as the one-line JSON text it travels as."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def incoming(raw: bytes | str, schema: str, what: str) -> dict[str, Any]:
    """A received message as a checked document; `CaptionError(INVALID_EVENT)` if it is not
    UTF-8 JSON or breaks `schema`."""
    document = load_json(raw, what)
    check_incoming(schema, document)
    return dict(document)


def utc_timestamp(moment: datetime | None = None) -> str:
    """`moment` (default: now) as RFC 3339 in UTC to the second, e.g. 2026-11-26T10:00:00Z."""
    moment = datetime.now(UTC) if moment is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- shared parts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackSource:
    """What a translation was made from: the source track's language and revision, by which
    translator ("firefox", "whisper", "ctranslate2:m2m100_418M"), through which language."""

    language: str
    revision: int
    translator: str
    via: str | None = None

    def to_dict(self) -> dict[str, str | int]:
        out: dict[str, str | int] = {"language": self.language, "revision": self.revision}
        out["translator"] = self.translator
        if self.via:
            out["via"] = self.via
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrackSource:
        return cls(d["language"], int(d["revision"]), d["translator"], d.get("via"))


@dataclass(frozen=True)
class TrackRef:
    """One caption track in storage: `kind` is captions (spoken language) or subtitles."""

    language: str
    kind: Literal["captions", "subtitles"]
    format: str  # a name of the format registry (`schemas.formats`)
    uri: str
    key: str | None = None  # the storage key under the store URL, when known
    # A caption track's current revision: its number, whether a model made it (not a
    # person), and when (None in older manifests and for transcript.json).
    revision: int | None = None
    generated: bool | None = None
    updated_at: str | None = None
    source: TrackSource | None = None  # a translation: what it was made from, and by what
    # A translation that could not be made: "failed" with its error, and no file at `uri`.
    status: Literal["ready", "failed"] = "ready"
    error: ErrorDetail | None = None
    # an aligned track (a person's words timed to the speech): "aligned", and how many of its
    # words alignment placed and how many were interpolated (no speech to align to)
    maker: Literal["aligned"] | None = None
    aligned: int | None = None
    interpolated: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "language": self.language,
            "kind": self.kind,
            "format": self.format,
            "uri": self.uri,
        }
        for name in ("key", "revision", "generated", "maker", "aligned", "interpolated"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        for name in ("updated_at",):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.source is not None:
            out["source"] = self.source.to_dict()
        if self.status != "ready":
            out["status"] = self.status
        if self.error is not None:
            out["error"] = self.error.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrackRef:
        source, error = d.get("source"), d.get("error")
        return cls(
            d["language"],
            d["kind"],
            d["format"],
            d["uri"],
            d.get("key"),
            d.get("revision"),
            d.get("generated"),
            d.get("updated_at"),
            None if source is None else TrackSource.from_dict(source),
            d.get("status", "ready"),
            None if error is None else ErrorDetail.from_dict(error),
            d.get("maker"),
            d.get("aligned"),
            d.get("interpolated"),
        )


@dataclass(frozen=True)
class ErrorDetail:
    """The `error` object of a failed event or manifest: a code and a message."""

    code: ErrorCode
    message: str

    @classmethod
    def from_failure(cls, failure: Failure) -> ErrorDetail:
        message = failure.message
        if len(message) > MESSAGE_LIMIT:
            message = message[: MESSAGE_LIMIT - 3] + "..."
        return cls(ErrorCode(failure.code), message)

    def to_dict(self) -> dict[str, Any]:
        return {"code": str(self.code), "message": self.message}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ErrorDetail:
        return cls(ErrorCode(d["code"]), d["message"])


# --- video.uploaded ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadRequest:
    """One video to caption, from a `video.uploaded` event, a CLI argument or a backfill row.

    Construction validates against `video_uploaded.v1.json` and raises
    `CaptionError(INVALID_EVENT)`. `language` "auto" is stored as None (detect);
    `translate_to` may be given as a list and is stored as a tuple. `hotwords` and
    `initial_prompt` are the upload's vocabulary for the model (None: none).
    """

    video_id: str
    source: str
    language: str | None = None
    translate_to: tuple[str, ...] = ()
    event_id: str | None = None
    occurred_at: str | None = None
    hotwords: str | None = None
    initial_prompt: str | None = None
    regenerate: bool = False  # captions asked for again (the captions API's generate)
    private: bool = False  # reads need a signed token (the gateway's private videos)
    # a storage URI of the words to align (`captions.scripts`): the track holds exactly them
    transcript: str | None = None
    keep_cues: bool = False  # a caption-file transcript's cues stay; only their times change
    retime_cues: tuple[int, int] | None = None  # with keep_cues: the cues re-timed (0-based)

    def __post_init__(self) -> None:
        if self.language == "auto":
            object.__setattr__(self, "language", None)
        if isinstance(self.translate_to, str):
            raise CaptionError(
                ErrorCode.INVALID_EVENT, "translate_to: expected an array of language codes"
            )
        if isinstance(self.translate_to, list):
            object.__setattr__(self, "translate_to", tuple(self.translate_to))
        if isinstance(self.retime_cues, list):
            object.__setattr__(self, "retime_cues", tuple(self.retime_cues))
        check_incoming(VIDEO_UPLOADED, self.to_event())
        validate_video_id(self.video_id)
        if self.language is not None and not is_whisper_language(self.language):
            raise CaptionError(
                ErrorCode.INVALID_EVENT,
                f"language: {short(self.language)} is not a language Whisper speaks "
                "(the spoken language is one of Whisper's codes: en, pt, yue, ...)",
            )
        if (self.keep_cues or self.retime_cues is not None) and self.transcript is None:
            raise CaptionError(ErrorCode.INVALID_EVENT, "keep_cues: there is no transcript")
        if self.retime_cues is not None and (
            not self.keep_cues or self.retime_cues[0] > self.retime_cues[1]
        ):
            raise CaptionError(
                ErrorCode.INVALID_EVENT, "retime_cues: [first, last] of kept cues, first <= last"
            )

    def to_event(self) -> dict[str, Any]:
        """The `video.uploaded` event as a dict; unset optional fields are left out."""
        event: dict[str, Any] = {}
        if self.event_id is not None:
            event["event_id"] = self.event_id
        event["video_id"] = self.video_id
        event["source"] = self.source
        if self.language is not None:
            event["language"] = self.language
        if self.translate_to:
            event["translate_to"] = list(self.translate_to)
        if self.hotwords is not None:
            event["hotwords"] = self.hotwords
        if self.initial_prompt is not None:
            event["initial_prompt"] = self.initial_prompt
        if self.transcript is not None:
            event["transcript"] = self.transcript
        if self.keep_cues:
            event["keep_cues"] = True
        if self.retime_cues is not None:
            event["retime_cues"] = list(self.retime_cues)
        if self.regenerate:
            event["regenerate"] = True
        if self.private:
            event["private"] = True
        if self.occurred_at is not None:
            event["occurred_at"] = self.occurred_at
        return event

    def to_json(self) -> str:
        return compact_json(self.to_event())


def parse_upload_event(raw: bytes | str) -> UploadRequest:
    """The one parser for `video.uploaded` messages.

    Raises `CaptionError(INVALID_EVENT)` for text that is not UTF-8 JSON, breaks the schema
    (the message names the field) or carries an unsafe video id. Unknown fields are ignored.
    """
    document = incoming(raw, VIDEO_UPLOADED, "event")
    return UploadRequest(
        video_id=document["video_id"],
        source=document["source"],
        language=document.get("language"),
        translate_to=tuple(document.get("translate_to", ())),
        event_id=document.get("event_id"),
        occurred_at=document.get("occurred_at"),
        hotwords=document.get("hotwords"),
        initial_prompt=document.get("initial_prompt"),
        regenerate=bool(document.get("regenerate", False)),
        private=document.get("private") is True,
        transcript=document.get("transcript"),
        keep_cues=document.get("keep_cues") is True,
        retime_cues=_pair(document.get("retime_cues")),
    )


def _pair(value: Any) -> tuple[int, int] | None:
    return None if value is None else (int(value[0]), int(value[1]))


# --- captions.ready / captions.failed ---------------------------------------------------------


class Event(ABC):
    """What every event of ours shares: it travels as one line of JSON."""

    @abstractmethod
    def to_event(self) -> dict[str, Any]: ...

    def to_json(self) -> str:
        return compact_json(self.to_event())


@dataclass(frozen=True)
class CaptionsReady(Event):
    """The `captions.ready` event: the tracks of one upload are in storage."""

    event_id: str
    upload_event_id: str | None
    video_id: str
    language: str
    duration_s: float
    tracks: tuple[TrackRef, ...]
    manifest_uri: str
    model: str
    completed_at: str

    status: ClassVar[str] = "ready"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tracks", tuple(self.tracks))
        check_outgoing(CAPTIONS_READY, self.to_event())

    @classmethod
    def for_upload(
        cls,
        request: UploadRequest,
        *,
        language: str,
        duration_s: float,
        tracks: tuple[TrackRef, ...] | list[TrackRef],
        manifest_uri: str,
        model: str,
        pipeline_version: str = PIPELINE_VERSION,
        completed_at: str | None = None,
    ) -> CaptionsReady:
        """The event for `request`; its id depends only on the upload and `pipeline_version`."""
        event_id = derived_event_id(
            "captions.ready",
            request.event_id,
            request.video_id,
            request.source,
            pipeline_version,
        )
        return cls(
            event_id,
            request.event_id,
            request.video_id,
            language,
            duration_s,
            tuple(tracks),
            manifest_uri,
            model,
            completed_at or utc_timestamp(),
        )

    def to_event(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "upload_event_id": self.upload_event_id,
            "video_id": self.video_id,
            "status": self.status,
            "language": self.language,
            "duration_s": round(self.duration_s, 3),
            "tracks": [t.to_dict() for t in self.tracks],
            "manifest_uri": self.manifest_uri,
            "model": self.model,
            "completed_at": self.completed_at,
        }

    @classmethod
    def from_json(cls, raw: bytes | str) -> CaptionsReady:
        """Parse a `captions.ready` message; `CaptionError(INVALID_EVENT)` if it is not one."""
        d = incoming(raw, CAPTIONS_READY, "captions.ready event")
        return cls(
            d["event_id"],
            d["upload_event_id"],
            d["video_id"],
            d["language"],
            float(d["duration_s"]),
            tuple(TrackRef.from_dict(t) for t in d["tracks"]),
            d["manifest_uri"],
            d["model"],
            d["completed_at"],
        )


@dataclass(frozen=True)
class CaptionsFailed(Event):
    """The `captions.failed` event: one upload could not be captioned, and why."""

    event_id: str
    upload_event_id: str | None
    video_id: str | None
    error: ErrorDetail
    raw: str | None
    failed_at: str

    status: ClassVar[str] = "failed"

    def __post_init__(self) -> None:
        check_outgoing(CAPTIONS_FAILED, self.to_event())

    @classmethod
    def for_failure(
        cls,
        failure: Failure,
        *,
        request: UploadRequest | None = None,
        raw: bytes | str | None = None,
        pipeline_version: str = PIPELINE_VERSION,
        failed_at: str | None = None,
    ) -> CaptionsFailed:
        """The event for `failure`; `raw` is the original message (truncated to RAW_LIMIT).

        An unsafe `failure.video_id` becomes null. The id is deterministic: the same upload (or
        raw message), error code and `pipeline_version` give the same id.
        """
        if isinstance(raw, bytes | bytearray):
            raw = bytes(raw).decode("utf-8", errors="replace")
        if raw is not None and len(raw) > RAW_LIMIT:
            raw = raw[:RAW_LIMIT]
        video_id = failure.video_id if is_safe_video_id(failure.video_id) else None
        upload_event_id = request.event_id if request is not None else None
        event_id = derived_event_id(
            "captions.failed",
            upload_event_id,
            video_id,
            request.source if request is not None else failure.source,
            hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest() if raw else None,
            str(failure.code),
            pipeline_version,
        )
        return cls(
            event_id,
            upload_event_id,
            video_id,
            ErrorDetail.from_failure(failure),
            raw,
            failed_at or utc_timestamp(),
        )

    def to_event(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "upload_event_id": self.upload_event_id,
            "video_id": self.video_id,
            "status": self.status,
            "error": self.error.to_dict(),
            "raw": self.raw,
            "failed_at": self.failed_at,
        }

    @classmethod
    def from_json(cls, raw: bytes | str) -> CaptionsFailed:
        """Parse a `captions.failed` message; `CaptionError(INVALID_EVENT)` if it is not one."""
        d = incoming(raw, CAPTIONS_FAILED, "captions.failed event")
        return cls(
            d["event_id"],
            d["upload_event_id"],
            d["video_id"],
            ErrorDetail.from_dict(d["error"]),
            d["raw"],
            d["failed_at"],
        )
