"""The Kafka event contracts and the one parser for `video.uploaded`.

Every event is checked against its JSON Schema file shipped beside this module
(`video_uploaded.v1.json`, `captions_ready.v1.json`, `captions_failed.v1.json`), loaded once.
Incoming data that breaks a schema is a `CaptionError(INVALID_EVENT)`; an outgoing event that
breaks one is a bug and raises `ValueError`.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import metadata, resources
from typing import Any, ClassVar, Final, Literal

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator

from schemas.errors import CaptionError, ErrorCode, Failure

VIDEO_UPLOADED: Final = "video_uploaded.v1"
CAPTIONS_READY: Final = "captions_ready.v1"
CAPTIONS_FAILED: Final = "captions_failed.v1"
MANIFEST: Final = "manifest.v1"
SCHEMA_NAMES: Final = (VIDEO_UPLOADED, CAPTIONS_READY, CAPTIONS_FAILED, MANIFEST)

MAX_EVENT_BYTES: Final = 64 * 1024  # an upload event is a few hundred bytes; refuse floods early
RAW_LIMIT: Final = 2048  # characters of the original message kept in captions.failed
MESSAGE_LIMIT: Final = 1000  # characters of an error message kept in events and manifests
VIDEO_ID_MAX: Final = 128

_VIDEO_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_VIDEO_ID_RULE: Final = (
    "1-128 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit, never '..'"
)
_EVENT_ID_NAMESPACE: Final = uuid.UUID("5b0f7d3e-2c1a-4c43-9a49-6f1d0b7c2a11")


def _package_version() -> str:
    try:
        return metadata.version("autocaption")
    except metadata.PackageNotFoundError:  # running from a checkout that is not installed
        return "0+unknown"


PIPELINE_VERSION: Final = _package_version()


# --- schema files ---------------------------------------------------------------------------


def _ecma_pattern(
    validator: Validator, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    # JSON Schema patterns are ECMA-262, where `$` is the end of the string; Python's `$` also
    # matches before a trailing newline, which would let "abc\n" through as a video id.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    if isinstance(instance, str) and not re.search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_StrictValidator = validators.extend(Draft202012Validator, validators={"pattern": _ecma_pattern})


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The JSON Schema document `schemas/<name>.json`, e.g. `load_schema("manifest.v1")`."""
    if name not in SCHEMA_NAMES:
        raise ValueError(f"unknown schema {name!r}; known: {', '.join(SCHEMA_NAMES)}")
    text = resources.files("schemas").joinpath(f"{name}.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(name: str) -> Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    validator: Validator = _StrictValidator(schema)
    return validator


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(error: ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = next(
            (p for p in error.validator_value if p not in error.instance), str(error.message)
        )
        return f"{where + '/' if where else ''}{missing}: required field is missing"
    where = where or "event"
    if error.validator == "pattern" and isinstance(error.schema, Mapping):
        rule = error.schema.get("description") or f"matching {error.validator_value!r}"
        return f"{where}: {_short(error.instance)} is not {rule}"
    message = str(error.message)
    return f"{where}: {message if len(message) <= 300 else message[:297] + '...'}"


def schema_problem(name: str, document: Any) -> str | None:
    """The most relevant way `document` breaks schema `name`, naming the field; None if valid."""
    error = best_match(_validator(name).iter_errors(document))
    return None if error is None else _describe(error)


def _check_outgoing(name: str, document: Any) -> None:
    problem = schema_problem(name, document)
    if problem is not None:
        raise ValueError(f"{name}: {problem}")


def _check_incoming(name: str, document: Any) -> None:
    problem = schema_problem(name, document)
    if problem is not None:
        raise CaptionError(ErrorCode.INVALID_EVENT, problem)


def _load_json(raw: bytes | str, what: str) -> Any:
    if isinstance(raw, bytes | bytearray):
        if len(raw) > MAX_EVENT_BYTES:
            raise CaptionError(
                ErrorCode.INVALID_EVENT, f"{what} is {len(raw)} bytes, over {MAX_EVENT_BYTES}"
            )
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CaptionError(ErrorCode.INVALID_EVENT, f"{what} is not UTF-8: {exc}") from None
    if not isinstance(raw, str):
        raise CaptionError(ErrorCode.INVALID_EVENT, f"{what} is {type(raw).__name__}, not text")
    if len(raw) > MAX_EVENT_BYTES:
        raise CaptionError(
            ErrorCode.INVALID_EVENT, f"{what} is {len(raw)} characters, over {MAX_EVENT_BYTES}"
        )
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CaptionError(
            ErrorCode.INVALID_EVENT,
            f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
        ) from None


def utc_timestamp(moment: datetime | None = None) -> str:
    """`moment` (default: now) as RFC 3339 in UTC to the second, e.g. 2026-11-26T10:00:00Z."""
    moment = datetime.now(UTC) if moment is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def derived_event_id(kind: str, *parts: str | None) -> str:
    """A deterministic event id (UUID 5) from the event kind and what identifies it."""
    name = "\x1f".join([kind, *("" if p is None else p for p in parts)])
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, name))


# --- video ids --------------------------------------------------------------------------------


def is_safe_video_id(video_id: object) -> bool:
    """True if `video_id` can name a storage folder and a Kafka key as it is."""
    return (
        isinstance(video_id, str)
        and _VIDEO_ID_RE.fullmatch(video_id) is not None
        and ".." not in video_id
    )


def validate_video_id(video_id: str) -> str:
    """`video_id` unchanged if safe; else `CaptionError(INVALID_EVENT)` saying why."""
    if not is_safe_video_id(video_id):
        raise CaptionError(
            ErrorCode.INVALID_EVENT,
            f"video_id: {_short(video_id)} is not a video id: {_VIDEO_ID_RULE}",
        )
    return video_id


def video_id_from_filename(name: str) -> str:
    """A safe, deterministic video id from a file name: "My Talk (1).mp4" -> "My_Talk_1-<hash>".

    Directories and the last extension are dropped. Accents are dropped ("café" -> "cafe"), every
    other run of characters outside [A-Za-z0-9._-] becomes "_", and ".." becomes ".". When the
    stem had to change at all (or is cut to fit 128 characters), "-" and 8 hex digits of the
    SHA-256 of the stem are appended, so two different stems never share an id. A stem that is
    already a safe id is kept as it is.
    """
    base = re.split(r"[/\\]", name)[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem.strip(".") or not ext:  # "talk", ".hidden", "..": no extension
        stem = base
    if is_safe_video_id(stem):
        return stem
    folded = unicodedata.normalize("NFKD", stem)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", folded)
    safe = re.sub(r"\.{2,}", ".", safe)
    safe = re.sub(r"^[^A-Za-z0-9]+", "", safe)
    safe = re.sub(r"[_.-]+$", "", safe) or "video"
    digest = hashlib.sha256(stem.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe[: VIDEO_ID_MAX - len(digest) - 1]}-{digest}"


# --- shared parts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackRef:
    """One caption track in storage: `kind` is captions (spoken language) or subtitles."""

    language: str
    kind: Literal["captions", "subtitles"]
    format: Literal["vtt", "srt", "json"]
    uri: str
    key: str | None = None  # the storage key under the store URL, when known

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "language": self.language,
            "kind": self.kind,
            "format": self.format,
            "uri": self.uri,
        }
        if self.key is not None:
            out["key"] = self.key
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrackRef:
        return cls(d["language"], d["kind"], d["format"], d["uri"], d.get("key"))


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

    def __post_init__(self) -> None:
        if self.language == "auto":
            object.__setattr__(self, "language", None)
        if isinstance(self.translate_to, str):
            raise CaptionError(
                ErrorCode.INVALID_EVENT, "translate_to: expected an array of language codes"
            )
        if isinstance(self.translate_to, list):
            object.__setattr__(self, "translate_to", tuple(self.translate_to))
        _check_incoming(VIDEO_UPLOADED, self.to_event())
        validate_video_id(self.video_id)

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
        if self.occurred_at is not None:
            event["occurred_at"] = self.occurred_at
        return event

    def to_json(self) -> str:
        return json.dumps(self.to_event(), ensure_ascii=False, separators=(",", ":"))


def parse_upload_event(raw: bytes | str) -> UploadRequest:
    """The one parser for `video.uploaded` messages.

    Raises `CaptionError(INVALID_EVENT)` for text that is not UTF-8 JSON, breaks the schema
    (the message names the field) or carries an unsafe video id. Unknown fields are ignored.
    """
    document = _load_json(raw, "event")
    _check_incoming(VIDEO_UPLOADED, document)
    return UploadRequest(
        video_id=document["video_id"],
        source=document["source"],
        language=document.get("language"),
        translate_to=tuple(document.get("translate_to", ())),
        event_id=document.get("event_id"),
        occurred_at=document.get("occurred_at"),
        hotwords=document.get("hotwords"),
        initial_prompt=document.get("initial_prompt"),
    )


# --- captions.ready / captions.failed ---------------------------------------------------------


@dataclass(frozen=True)
class CaptionsReady:
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
        _check_outgoing(CAPTIONS_READY, self.to_event())

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

    def to_json(self) -> str:
        return json.dumps(self.to_event(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> CaptionsReady:
        """Parse a `captions.ready` message; `CaptionError(INVALID_EVENT)` if it is not one."""
        d = _load_json(raw, "captions.ready event")
        _check_incoming(CAPTIONS_READY, d)
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
class CaptionsFailed:
    """The `captions.failed` event: one upload could not be captioned, and why."""

    event_id: str
    upload_event_id: str | None
    video_id: str | None
    error: ErrorDetail
    raw: str | None
    failed_at: str

    status: ClassVar[str] = "failed"

    def __post_init__(self) -> None:
        _check_outgoing(CAPTIONS_FAILED, self.to_event())

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

    def to_json(self) -> str:
        return json.dumps(self.to_event(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> CaptionsFailed:
        """Parse a `captions.failed` message; `CaptionError(INVALID_EVENT)` if it is not one."""
        d = _load_json(raw, "captions.failed event")
        _check_incoming(CAPTIONS_FAILED, d)
        return cls(
            d["event_id"],
            d["upload_event_id"],
            d["video_id"],
            ErrorDetail.from_dict(d["error"]),
            d["raw"],
            d["failed_at"],
        )
