"""Arrow schemas for tables of manifests and for the backfill report (`--report OUT.parquet`).

Kept out of `schemas/__init__` so importing the event contracts does not import pyarrow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Final, Literal

import pyarrow as pa

from schemas.errors import Failure
from schemas.manifest import Manifest

TRACK_TYPE: Final = pa.struct(
    [
        pa.field("language", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("uri", pa.string(), nullable=False),
        pa.field("key", pa.string()),
    ]
)

MANIFEST_SCHEMA: Final = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("source", pa.string()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("duration_s", pa.float64()),
        pa.field("language", pa.string()),
        pa.field("tracks", pa.list_(pa.field("item", TRACK_TYPE, nullable=False)), nullable=False),
        pa.field("error_code", pa.string()),
        pa.field("error_message", pa.string()),
        pa.field("model", pa.string(), nullable=False),
        pa.field("created_at", pa.timestamp("s", tz="UTC"), nullable=False),
        pa.field("pipeline_version", pa.string(), nullable=False),
        pa.field("cues", pa.int64()),
    ]
)

REPORT_STATUSES: Final = ("ready", "failed", "skipped")

REPORT_SCHEMA: Final = pa.schema(
    [
        pa.field("video_id", pa.string()),  # null when a backfill row had no usable id
        pa.field("source", pa.string()),
        pa.field("status", pa.string(), nullable=False),  # ready | failed | skipped
        pa.field("error_code", pa.string()),
        pa.field("duration_s", pa.float64()),
        pa.field("language", pa.string()),
        pa.field("cues", pa.int64()),
        pa.field("processing_s", pa.float64()),
        pa.field("model", pa.string()),
    ]
)


def manifest_row(manifest: Manifest) -> dict[str, Any]:
    """One row of MANIFEST_SCHEMA: the manifest with its error flattened into two columns."""
    row = manifest.to_dict()
    error = row.pop("error")
    row["error_code"] = None if error is None else error["code"]
    row["error_message"] = None if error is None else error["message"]
    row["created_at"] = datetime.fromisoformat(manifest.created_at.replace("Z", "+00:00"))
    return row


def manifest_table(manifests: Iterable[Manifest]) -> pa.Table:
    """A table of MANIFEST_SCHEMA with one row per manifest."""
    return pa.Table.from_pylist([manifest_row(m) for m in manifests], schema=MANIFEST_SCHEMA)


@dataclass(frozen=True)
class ReportRow:
    """The outcome of one backfill input."""

    video_id: str | None
    source: str | None
    status: Literal["ready", "failed", "skipped"]
    error_code: str | None = None
    duration_s: float | None = None
    language: str | None = None
    cues: int | None = None
    processing_s: float | None = None
    model: str | None = None

    def __post_init__(self) -> None:
        if self.status not in REPORT_STATUSES:
            raise ValueError(f"report status must be one of {REPORT_STATUSES}, not {self.status!r}")

    @classmethod
    def from_manifest(cls, manifest: Manifest, processing_s: float | None = None) -> ReportRow:
        return cls(
            manifest.video_id,
            manifest.source,
            manifest.status,
            None if manifest.error is None else str(manifest.error.code),
            manifest.duration_s,
            manifest.language,
            manifest.cues,
            processing_s,
            manifest.model or None,
        )

    @classmethod
    def from_failure(cls, failure: Failure, processing_s: float | None = None) -> ReportRow:
        return cls(
            failure.video_id, failure.source, "failed", str(failure.code), processing_s=processing_s
        )

    @classmethod
    def skipped(cls, video_id: str, source: str | None) -> ReportRow:
        """An input left alone because its manifest already existed (`--skip-existing`)."""
        return cls(video_id, source, "skipped")


def report_table(rows: Iterable[ReportRow | Mapping[str, Any]]) -> pa.Table:
    """A table of REPORT_SCHEMA; mappings are checked like `ReportRow` (unknown keys refused)."""
    columns = set(REPORT_SCHEMA.names)
    records: list[dict[str, Any]] = []
    for row in rows:
        if isinstance(row, ReportRow):
            records.append(asdict(row))
            continue
        unknown = set(row) - columns
        if unknown:
            raise ValueError(f"report row has unknown columns: {sorted(unknown)}")
        records.append(asdict(ReportRow(**row)))
    return pa.Table.from_pylist(records, schema=REPORT_SCHEMA)
