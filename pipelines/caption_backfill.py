"""`caption_backfill`: a bounded job over a whole library, with a Parquet report.

    Create(requests) -> CaptionVideos -> ReportRows -> report.parquet

Inputs come from a manifest (Parquet, CSV or JSON Lines with `video_id`, `source` and optional
`language`) or from listing a storage prefix. Rows that cannot be captioned as given (missing
columns, unsafe ids, unsupported sources) are reported `failed` with `invalid_event` and the
job goes on. With `--skip-existing` a video whose ready manifest exists for the same source,
pipeline version and model is reported `skipped` without decoding or inference, so an
interrupted backfill resumes where it stopped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import apache_beam as beam

from connectors.storage import open_store
from connectors.storage.layout import MEDIA_EXTENSIONS
from connectors.tables import read_rows, write_table
from library.catalog import precise_timestamp
from pipelines.caption_files import requests_for_files
from schemas.arrow import ReportRow, report_table
from schemas.errors import CaptionError, ErrorCode
from schemas.events import UploadRequest, parse_upload_event
from transforms.caption import CaptionVideos
from transforms.domain import CaptionResult
from transforms.settings import CaptionOptions


def requests_from_manifest(path: str) -> tuple[list[UploadRequest], list[ReportRow]]:
    """(valid requests, `failed` report rows for the rows that are not) from a manifest file."""
    requests: list[UploadRequest] = []
    invalid: list[ReportRow] = []
    seen: set[str] = set()
    for row in read_rows(path):
        video_id, source = row.get("video_id"), row.get("source")
        try:
            if video_id in seen:
                raise CaptionError(ErrorCode.INVALID_EVENT, f"video_id {video_id!r} repeated")
            # the one event parser validates a row exactly as it validates an upload event
            event = {k: str(row[k]) for k in ("video_id", "source", "language") if row.get(k)}
            requests.append(parse_upload_event(json.dumps(event)))
            seen.add(str(video_id))
        except CaptionError as exc:
            invalid.append(ReportRow(_text(video_id), _text(source), "failed", str(exc.code)))
    return requests, invalid


def requests_from_prefix(prefix: str) -> list[UploadRequest]:
    """One request per media object under a storage prefix (`s3://bucket/path/`), ids made
    from file names (unique and safe, see `requests_for_files`)."""
    store = open_store(prefix)
    keys = [k for k in store.list("") if os.path.splitext(k)[1].lower() in MEDIA_EXTENSIONS]
    return requests_for_files([store.uri(k) for k in keys])


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:1024]


def report_row(result: CaptionResult) -> dict[str, Any]:
    """One row of the report for one captioned (or skipped, or failed) video."""
    status = "skipped" if result.reused else result.status
    return {
        "video_id": result.video_id,
        "source": result.source,
        "status": status,
        "error_code": str(result.failure.code) if result.failure else None,
        "duration_s": round(result.duration_s, 3) if result.status == "ready" else None,
        "language": result.language,
        "cues": result.cues if result.status == "ready" else None,
        "processing_s": round(result.processing_s, 3),
        "model": result.model or None,
    }


class WriteReport(beam.DoFn):
    """All report rows (one list) -> the Parquet report, invalid input rows included."""

    def __init__(self, path: str, extra: Sequence[ReportRow]) -> None:
        self.path = path
        self.extra = list(extra)

    def process(self, rows: list[dict[str, Any]]) -> Iterator[str]:
        ordered = sorted(rows, key=lambda r: r["video_id"] or "")
        yield write_table(self.path, report_table([*ordered, *self.extra]))


def caption_backfill(
    pipeline: beam.Pipeline,
    requests: Sequence[UploadRequest],
    options: CaptionOptions,
    report: str,
    invalid: Sequence[ReportRow] = (),
) -> beam.PCollection:
    """Add the backfill graph to `pipeline`; the report is written when it finishes.

    Each request is stamped with the backfill's start as its time, unless it has one: a video
    deleted before the backfill and uploaded again is captioned as a new one."""
    started = precise_timestamp()
    stamped = [r if r.occurred_at else replace(r, occurred_at=started) for r in requests]
    return (
        pipeline
        | "Videos" >> beam.Create(stamped)
        | "CaptionVideos" >> CaptionVideos(options)
        | "ReportRows" >> beam.Map(report_row)
        | "AllRows" >> beam.combiners.ToList()
        | "WriteReport" >> beam.ParDo(WriteReport(report, invalid))
    )
