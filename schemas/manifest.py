"""`captions/<video_id>/manifest.json`: the record of one video, written after its tracks.

Validated against `manifest.v1.json` on construction and on reading. A manifest is our own
output, so one that breaks the schema raises `ValueError` (a bug or a damaged file), never a
`CaptionError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from schemas.errors import Failure
from schemas.events import PIPELINE_VERSION, ErrorDetail, TrackRef, utc_timestamp
from schemas.validation import MANIFEST, schema_problem

__all__ = ["Manifest", "TrackRef"]


@dataclass(frozen=True)
class Manifest:
    """What was made for one video: its tracks when `ready`, its error when `failed`."""

    video_id: str
    source: str | None
    status: Literal["ready", "failed"]
    duration_s: float | None
    language: str | None
    tracks: tuple[TrackRef, ...]
    error: ErrorDetail | None
    model: str
    created_at: str
    pipeline_version: str
    cues: int | None
    # (hotwords, initial prompt) the model was given; None: none (or an older manifest)
    vocabulary: tuple[str | None, str | None] | None = None
    # a video captioned from a supplied transcript: what alignment did (see manifest.v1.json)
    alignment: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tracks", tuple(self.tracks))
        problem = schema_problem(MANIFEST, self.to_dict())
        if problem is not None:
            raise ValueError(f"invalid manifest: {problem}")

    @classmethod
    def ready(
        cls,
        video_id: str,
        source: str,
        *,
        duration_s: float,
        language: str,
        tracks: Sequence[TrackRef],
        model: str,
        cues: int,
        pipeline_version: str = PIPELINE_VERSION,
        created_at: str | None = None,
        vocabulary: tuple[str | None, str | None] | None = None,
        alignment: dict[str, Any] | None = None,
    ) -> Manifest:
        """The manifest of a captioned video."""
        return cls(
            video_id,
            source,
            "ready",
            duration_s,
            language,
            tuple(tracks),
            None,
            model,
            created_at or utc_timestamp(),
            pipeline_version,
            cues,
            vocabulary if vocabulary and any(vocabulary) else None,
            alignment,
        )

    @classmethod
    def failed(
        cls,
        failure: Failure,
        *,
        video_id: str | None = None,
        source: str | None = None,
        duration_s: float | None = None,
        language: str | None = None,
        model: str = "",
        pipeline_version: str = PIPELINE_VERSION,
        created_at: str | None = None,
    ) -> Manifest:
        """The manifest of a video that failed; `video_id`/`source` default to the failure's.

        Raises `ValueError` when there is no safe video id to file it under.
        """
        return cls(
            video_id or failure.video_id or "",
            source if source is not None else failure.source,
            "failed",
            duration_s,
            language,
            (),
            ErrorDetail.from_failure(failure),
            model,
            created_at or utc_timestamp(),
            pipeline_version,
            None,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "video_id": self.video_id,
            "source": self.source,
            "status": self.status,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "language": self.language,
            "tracks": [t.to_dict() for t in self.tracks],
            "error": None if self.error is None else self.error.to_dict(),
            "model": self.model,
            "created_at": self.created_at,
            "pipeline_version": self.pipeline_version,
            "cues": self.cues,
        }
        if self.vocabulary is not None:
            hotwords, initial_prompt = self.vocabulary
            out["vocabulary"] = {"hotwords": hotwords, "initial_prompt": initial_prompt}
        if self.alignment is not None:
            out["alignment"] = self.alignment
        return out

    def to_json(self) -> str:
        """Indented JSON text with a final newline, as stored."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Manifest:
        problem = schema_problem(MANIFEST, d)
        if problem is not None:
            raise ValueError(f"invalid manifest: {problem}")
        return cls(
            d["video_id"],
            d["source"],
            d["status"],
            None if d["duration_s"] is None else float(d["duration_s"]),
            d["language"],
            tuple(TrackRef.from_dict(t) for t in d["tracks"]),
            None if d["error"] is None else ErrorDetail.from_dict(d["error"]),
            d["model"],
            d["created_at"],
            d["pipeline_version"],
            d["cues"],
            _vocabulary(d.get("vocabulary")),
            d.get("alignment"),
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> Manifest:
        """Parse a stored manifest; `ValueError` if it is not valid JSON or breaks the schema."""
        try:
            document = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"invalid manifest: not JSON: {exc}") from None
        return cls.from_dict(document)


def _vocabulary(d: Mapping[str, Any] | None) -> tuple[str | None, str | None] | None:
    return None if d is None else (d["hotwords"], d["initial_prompt"])
