"""`autocaption backfill`: caption a whole library (a manifest or a storage prefix)."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from typing import Any

from pipelines.models import model_label, resolve_model
from pipelines.options import (
    UsageError,
    add_common_options,
    add_kafka_setting_option,
    add_option,
    caption_options,
    create_topics_if_asked,
    kafka_config,
    make_pipeline,
    topics,
)
from pipelines.progress_bar import show_progress


def add_parser(commands: Any) -> None:
    backfill = commands.add_parser(
        "backfill",
        help="caption a whole library (a manifest or a storage prefix) with a Parquet report",
        description="A bounded job over a manifest (Parquet, CSV or JSON Lines with video_id, "
        "source and optional language) or every media object under --prefix. Writes tracks to "
        "--storage and one report row per video (ready, failed or skipped) to --report. "
        "With --bootstrap-servers, the rows go to a fleet of stream services on the backfill "
        "topic instead of a local pipeline, and their answers make the report. "
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
    fleet = backfill.add_argument_group(
        "fleet",
        "caption through workers (`autocaption stream --uploaded-topic video.backfill "
        "--group-id backfill`) instead of a local pipeline",
    )
    add_option(
        fleet,
        "--bootstrap-servers",
        default=None,
        help="Kafka brokers: publish one upload event per row and collect the workers' answers",
    )
    add_option(fleet, "--uploaded-topic", default="video.backfill", help="where rows go")
    add_option(fleet, "--ready-topic", default="captions.ready")
    add_option(fleet, "--failed-topic", default="captions.failed")
    add_kafka_setting_option(fleet)
    fleet.add_argument("--create-topics", action="store_true", help="create the topics if missing")
    add_option(
        fleet,
        "--wait",
        type=float,
        default=None,
        metavar="SECONDS",
        help="give up (exit 3, no report) when rows are still unanswered after this long "
        "(default: wait; Ctrl-C and a later run with --skip-existing resume)",
    )
    add_common_options(backfill)
    backfill.set_defaults(
        run=run,
        parser=backfill,
        takes_beam_options=True,
        group_id="autocaption-backfill",
        updated_topic="captions.updated",
    )


def run(args: argparse.Namespace, beam_args: list[str]) -> int:
    """Run the job; report rows for every input; exit 1 when any video failed."""
    from connectors.storage import open_store
    from pipelines.caption_backfill import requests_from_manifest, requests_from_prefix

    try:
        store = open_store(args.storage)
        if args.manifest:
            requests, invalid = requests_from_manifest(args.manifest)
        else:
            requests, invalid = requests_from_prefix(args.prefix), []
    except (ValueError, FileNotFoundError, OSError) as exc:
        raise UsageError(str(exc)) from None
    started = time.monotonic()
    if args.bootstrap_servers:
        answered = _through_fleet(args, beam_args, store, requests, invalid)
        if answered is None:
            return 3
        rows = answered
    else:
        rows = _local(args, beam_args, store, requests, invalid)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ready", "skipped", "failed")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    print(f"backfill: {summary} in {time.monotonic() - started:.1f} s; report {args.report}",
          file=sys.stderr)  # fmt: skip
    return 1 if counts["failed"] else 0


def _local(
    args: argparse.Namespace, beam_args: list[str], store: Any, requests: Any, invalid: Any
) -> list[dict[str, Any]]:
    """The bounded Beam job on this machine."""
    from connectors.tables import read_rows
    from pipelines.caption_backfill import caption_backfill

    args.model, args.model_label = resolve_model(args.model)
    options = replace(
        caption_options(args, store.url),
        reuse_existing=args.skip_existing,
        max_source_bytes=args.max_source_bytes,
    )
    with show_progress(len(requests)):
        pipeline = make_pipeline(args.runner, beam_args)
        caption_backfill(pipeline, requests, options, args.report, invalid)
        pipeline.run().wait_until_finish()
    return list(read_rows(args.report))


def _through_fleet(
    args: argparse.Namespace, beam_args: list[str], store: Any, requests: Any, invalid: Any
) -> list[dict[str, Any]] | None:
    """One upload event per row on the backfill topic; the fleet's answers make the report.
    None when --wait passed with rows unanswered (no report is written)."""
    from pipelines.fleet_backfill import backfill_through_fleet

    if beam_args:
        raise UsageError(f"the fleet runs the pipeline; unknown options: {' '.join(beam_args)}")
    # The workers load the model; here it only names it, for --skip-existing and the report.
    args.model_label = model_label(args.model)
    options = caption_options(args, store.url)
    create_topics_if_asked(args)
    with show_progress(len(requests)):
        try:
            return backfill_through_fleet(
                requests,
                invalid,
                store=store,
                options=options,
                kafka=kafka_config(args),
                topics=topics(args),
                report=args.report,
                skip_existing=args.skip_existing,
                wait_s=args.wait,
            )
        except TimeoutError as exc:
            print(f"backfill: {exc}; no report written. Run it again with --skip-existing to "
                  "resume", file=sys.stderr)  # fmt: skip
            return None
