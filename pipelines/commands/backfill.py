"""`autocaption backfill`: caption a whole library (a manifest or a storage prefix)."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from typing import Any

from pipelines.models import resolve_model
from pipelines.options import UsageError, add_common_options, caption_options, make_pipeline
from pipelines.progress import show_progress


def add_parser(commands: Any) -> None:
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
    backfill.set_defaults(run=run)


def run(args: argparse.Namespace, beam_args: list[str]) -> int:
    """Run the job; report rows for every input; exit 1 when any video failed."""
    from connectors.storage import open_store
    from connectors.tables import read_rows
    from pipelines.caption_backfill import (
        caption_backfill,
        requests_from_manifest,
        requests_from_prefix,
    )

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
    started = time.monotonic()
    with show_progress(len(requests)):
        pipeline = make_pipeline(args.runner, beam_args)
        caption_backfill(pipeline, requests, options, args.report, invalid)
        pipeline.run().wait_until_finish()
    rows = list(read_rows(args.report))
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ready", "skipped", "failed")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    print(f"backfill: {summary} in {time.monotonic() - started:.1f} s; report {args.report}",
          file=sys.stderr)  # fmt: skip
    return 1 if counts["failed"] else 0
