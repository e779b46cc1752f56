"""Backfill inputs: manifests in every format, bad rows reported, ids kept as written."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.tables import read_rows, table_format, write_table
from pipelines.caption_backfill import report_row, requests_from_manifest
from schemas.errors import ErrorCode, Failure
from schemas.events import UploadRequest
from transforms.domain import CaptionResult

ROWS = [
    {"video_id": "007", "source": "s3://media/a.mp4", "language": "de"},
    {"video_id": "b", "source": "file:///srv/b.mov", "language": None},
]


def _write(tmp_path: Path, kind: str, rows: list[dict]) -> Path:  # type: ignore[type-arg]
    path = tmp_path / f"videos.{kind}"
    if kind == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    elif kind == "csv":
        lines = ["video_id,source,language"]
        lines += [f"{r['video_id']},{r['source']},{r['language'] or ''}" for r in rows]
        path.write_text("\n".join(lines) + "\n")
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("kind", ["parquet", "csv", "jsonl"])
def test_every_format_gives_the_same_requests(tmp_path: Path, kind: str) -> None:
    requests, invalid = requests_from_manifest(str(_write(tmp_path, kind, ROWS)))
    assert invalid == []
    assert requests == [
        UploadRequest("007", "s3://media/a.mp4", "de"),
        UploadRequest("b", "file:///srv/b.mov"),
    ]


def test_bad_rows_are_reported_and_the_rest_goes_on(tmp_path: Path) -> None:
    rows = [
        *ROWS,
        {"video_id": "../../etc/passwd", "source": "s3://media/c.mp4", "language": None},
        {"video_id": "d", "source": None, "language": None},
        {"video_id": None, "source": "s3://media/e.mp4", "language": None},
        {"video_id": "f", "source": "https://example.com/f.mp4", "language": None},
        {"video_id": "b", "source": "s3://media/again.mp4", "language": None},
    ]
    requests, invalid = requests_from_manifest(str(_write(tmp_path, "jsonl", rows)))
    assert [r.video_id for r in requests] == ["007", "b"]
    assert len(invalid) == 5
    assert {r.status for r in invalid} == {"failed"}
    assert {r.error_code for r in invalid} == {"invalid_event"}
    assert invalid[0].video_id == "../../etc/passwd"  # reported as given, never used as a key


def test_unknown_manifest_format_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"use \.parquet, \.csv or \.jsonl"):
        table_format("videos.xlsx")


def test_report_rows_say_ready_failed_or_skipped(tmp_path: Path) -> None:
    request = UploadRequest("v", "s3://media/v.mp4")
    ready = CaptionResult("v", request.source, "ready", "u", "en", 12.5, 4, model="small")
    skipped = CaptionResult("v", request.source, "ready", "u", "en", 12.5, 4, reused=True)
    failure = Failure("v", ErrorCode.NO_AUDIO_STREAM, "none", request.source)
    failed = CaptionResult("v", request.source, "failed", "u", failure=failure)
    assert report_row(ready)["status"] == "ready" and report_row(ready)["cues"] == 4
    assert report_row(skipped)["status"] == "skipped"
    assert report_row(failed)["error_code"] == "no_audio_stream"
    out = write_table(str(tmp_path / "r" / "report.parquet"), pa.Table.from_pylist([{"a": 1}]))
    assert list(read_rows(out)) == [{"a": 1}]
