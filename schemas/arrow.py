"""The Arrow schema of the backfill report (`--report OUT.parquet`), one row per video.

Kept out of `schemas/__init__` so importing the event contracts does not import pyarrow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

import pyarrow as pa

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
