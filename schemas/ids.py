"""Video ids and event ids: the one rule for an id that names a storage folder and a Kafka key.

A video id is 1-128 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit,
never holding '..'; so no path traversal into storage. Event ids of our own answers are
deterministic (UUID 5), so a replay repeats them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from typing import Final

from schemas.errors import CaptionError, ErrorCode
from schemas.validation import short

VIDEO_ID_MAX: Final = 128

_VIDEO_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_VIDEO_ID_RULE: Final = (
    "1-128 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit, never '..'"
)
# As the schemas' `language_code`: a BCP 47 language tag of a language as Whisper names it
# (en, de, yue: ISO 639), optionally with a script and a region (zh-Hans, pt-BR, es-419), in
# BCP 47's canonical case. One rule for tracks, storage keys, routes and events.
_LANGUAGE_CODE_RE: Final = re.compile(r"[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|[0-9]{3}))?")
_ANY_CASE_LANGUAGE_RE: Final = re.compile(
    r"([A-Za-z]{2,3})(?:[-_]([A-Za-z]{4}))?(?:[-_]([A-Za-z]{2}|[0-9]{3}))?"
)
LANGUAGE_CODE_RULE: Final = (
    "a language code: 2-3 letters (en, yue), optionally a script and a region (zh-Hans, pt-BR)"
)
_EVENT_ID_NAMESPACE: Final = uuid.UUID("5b0f7d3e-2c1a-4c43-9a49-6f1d0b7c2a11")


def derived_event_id(kind: str, *parts: str | None) -> str:
    """A deterministic event id (UUID 5) from the event kind and what identifies it."""
    name = "\x1f".join([kind, *("" if p is None else p for p in parts)])
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, name))


def is_safe_video_id(video_id: object) -> bool:
    """True if `video_id` can name a storage folder and a Kafka key as it is."""
    return (
        isinstance(video_id, str)
        and _VIDEO_ID_RE.fullmatch(video_id) is not None
        and ".." not in video_id
    )


def is_language_code(code: object) -> bool:
    """True if `code` is a language code tracks may be named by, as written in canonical case:
    `en`, `yue`, `pt-BR`, `zh-Hans`, `es-419` (see `LANGUAGE_CODE_RULE`)."""
    return isinstance(code, str) and _LANGUAGE_CODE_RE.fullmatch(code) is not None


def canonical_language(text: object) -> str | None:
    """`text` as a language code in BCP 47's canonical case (`PT-br` -> `pt-BR`, `zh_hans` ->
    `zh-Hans`); None when it is not one."""
    if not isinstance(text, str):
        return None
    match = _ANY_CASE_LANGUAGE_RE.fullmatch(text.strip())
    if match is None:
        return None
    language, script, region = match.groups()
    parts = [
        language.lower(),
        *([script.title()] if script else []),
        *([region.upper()] if region else []),
    ]
    return "-".join(parts)


def validate_video_id(video_id: str) -> str:
    """`video_id` unchanged if safe; else `CaptionError(INVALID_EVENT)` saying why."""
    if not is_safe_video_id(video_id):
        raise CaptionError(
            ErrorCode.INVALID_EVENT,
            f"video_id: {short(video_id)} is not a video id: {_VIDEO_ID_RULE}",
        )
    return video_id


def video_id_from_filename(name: str) -> str:
    """A safe, deterministic video id from a file name: "My Talk (1).mp4" -> "My_Talk_1-<hash>".

    Directories and the last extension are dropped, the rest made `safe_characters`. When the
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
    safe = re.sub(r"^[^A-Za-z0-9]+", "", safe_characters(stem))
    safe = re.sub(r"[_.-]+$", "", safe) or "video"
    digest = hashlib.sha256(stem.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe[: VIDEO_ID_MAX - len(digest) - 1]}-{digest}"


def safe_characters(text: str) -> str:
    """`text` in the characters ids and keys allow: accents dropped ("café" -> "cafe"), every
    other run of characters outside [A-Za-z0-9._-] made "_", ".." made "."."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", folded)
    return re.sub(r"\.{2,}", ".", safe)
