"""The JSON Schema files of the contracts, and checking documents against them.

Every event and manifest is checked against its schema file shipped beside this module
(`video_uploaded.v1.json`, `captions_ready.v1.json`, `captions_failed.v1.json`,
`captions_updated.v1.json`, `manifest.v1.json`, `video_deleted.v1.json`), loaded once. The
`format` of a track is checked against the format registry (`schemas.formats`): its list is
filled in when a schema is loaded, so the files never list formats of their own. Incoming data
that breaks a schema is a `CaptionError(INVALID_EVENT)` naming the field; an outgoing document
that breaks one is a bug and raises `ValueError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any, Final

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator

from schemas.errors import CaptionError, ErrorCode
from schemas.formats import FORMAT_NAMES

VIDEO_UPLOADED: Final = "video_uploaded.v1"
CAPTIONS_READY: Final = "captions_ready.v1"
CAPTIONS_FAILED: Final = "captions_failed.v1"
CAPTIONS_UPDATED: Final = "captions_updated.v1"
MANIFEST: Final = "manifest.v1"
VIDEO_DELETED: Final = "video_deleted.v1"
SCHEMA_NAMES: Final = (
    VIDEO_UPLOADED,
    CAPTIONS_READY,
    CAPTIONS_FAILED,
    CAPTIONS_UPDATED,
    MANIFEST,
    VIDEO_DELETED,
)

MAX_EVENT_BYTES: Final = 64 * 1024  # an upload event is a few hundred bytes; refuse floods early


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
    track_format = schema.get("$defs", {}).get("track_format")
    if track_format is not None:
        track_format["enum"] = list(FORMAT_NAMES)
    return schema


@cache
def _validator(name: str) -> Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    validator: Validator = _StrictValidator(schema)
    return validator


def short(value: Any, limit: int = 80) -> str:
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
        return f"{where}: {short(error.instance)} is not {rule}"
    message = str(error.message)
    return f"{where}: {message if len(message) <= 300 else message[:297] + '...'}"


def schema_problem(name: str, document: Any) -> str | None:
    """The most relevant way `document` breaks schema `name`, naming the field; None if valid."""
    error = best_match(_validator(name).iter_errors(document))
    return None if error is None else _describe(error)


def check_outgoing(name: str, document: Any) -> None:
    problem = schema_problem(name, document)
    if problem is not None:
        raise ValueError(f"{name}: {problem}")


def check_incoming(name: str, document: Any) -> None:
    problem = schema_problem(name, document)
    if problem is not None:
        raise CaptionError(ErrorCode.INVALID_EVENT, problem)


def load_json(raw: bytes | str, what: str) -> Any:
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
