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
from typing import Any

import apache_beam as beam

from connectors.storage import open_store
from connectors.tables import read_rows, write_table
from schemas.arrow import ReportRow, report_table
from schemas.errors import CaptionError, ErrorCode
from schemas.events import UploadRequest, parse_upload_event
from transforms.caption import CaptionOptions, CaptionResult, CaptionVideos

# fmt: off
MEDIA_EXTENSIONS = frozenset((
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".flv", ".ts", ".mts", ".m2ts", ".mpg",
    ".mpeg", ".3gp", ".wmv", ".ogv", ".mp3", ".m4a", ".aac", ".wav", ".flac", ".ogg", ".oga",
    ".opus", ".wma", ".amr",
))
# fmt: on


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
    from pipelines.caption_files import requests_for_files

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
    """Add the backfill graph to `pipeline`; the report is written when it finishes."""
    return (
        pipeline
        | "Videos" >> beam.Create(list(requests))
        | "CaptionVideos" >> CaptionVideos(options)
        | "ReportRows" >> beam.Map(report_row)
        | "AllRows" >> beam.combiners.ToList()
        | "WriteReport" >> beam.ParDo(WriteReport(report, invalid))
    )


def add_command(commands: Any) -> None:
    """The `autocaption backfill` subcommand (options and runner)."""
    from pipelines.options import add_common_options

    backfill = commands.add_parser(
        "backfill",
        help="caption a whole library (a manifest or a storage prefix) with a Parquet report",
        description="A bounded job over a manifest (Parquet, CSV or JSON Lines with video_id, "
        "source and optional language) or every media object under --prefix. Writes tracks to "
        "--storage and one report row per video (ready, failed or skipped) to --report. "
        "Exit 0 only if nothing failed.",
    )
    inputs = backfill.add_mutually_exclusive_group(required=True)
    inputs.add_argument("--manifest", metavar="FILE", help="videos to caption (local or s3://)")
    inputs.add_argument("--prefix", metavar="URL", help="caption every media object under it")
    backfill.add_argument("--storage", required=True, help="storage URL for tracks")
    backfill.add_argument(
        "--report", required=True, metavar="OUT.parquet", help="report path (local or s3://)"
    )
    backfill.add_argument(
        "--skip-existing",
        action="store_true",
        help="skip videos whose ready manifest exists for this source, pipeline and model",
    )
    backfill.add_argument(
        "--max-source-bytes", type=int, default=8 * 2**30, help="largest s3:// source staged"
    )
    add_common_options(backfill)
    backfill.set_defaults(run=run_backfill)


def run_backfill(args: Any, beam_args: list[str]) -> int:
    """Run the job; report rows for every input; exit 1 when any video failed."""
    import sys
    import time
    from dataclasses import replace

    from pipelines.cli import Progress, resolve_model
    from pipelines.options import UsageError, caption_options, make_pipeline
    from transforms import caption

    try:
        store = open_store(args.storage)
        if args.manifest:
            requests, invalid = requests_from_manifest(args.manifest)
        else:
            requests, invalid = requests_from_prefix(args.prefix), []
    except (ValueError, FileNotFoundError, OSError) as exc:
        raise UsageError(str(exc)) from None
    args.model, args.model_label = resolve_model(args.model)
    options = replace(
        caption_options(args, store.url),
        reuse_existing=args.skip_existing,
        max_source_bytes=args.max_source_bytes,
    )
    progress = Progress(len(requests)) if sys.stderr.isatty() else None
    caption.progress_listener = progress.on_event if progress else None
    started = time.monotonic()
    try:
        pipeline = make_pipeline(args.runner, beam_args)
        caption_backfill(pipeline, requests, options, args.report, invalid)
        pipeline.run().wait_until_finish()
    finally:
        caption.progress_listener = None
    rows = list(read_rows(args.report))
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ready", "skipped", "failed")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    print(f"backfill: {summary} in {time.monotonic() - started:.1f} s; report {args.report}",
          file=sys.stderr)  # fmt: skip
    return 1 if counts["failed"] else 0
