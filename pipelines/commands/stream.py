"""`autocaption stream`: the long-running service, `video.uploaded` in, answers out."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import signal
import threading
import time
from dataclasses import replace
from typing import Any

from connectors.storage.file_store import FileStore
from connectors.storage.store import ObjectStore
from pipelines.models import resolve_model
from pipelines.options import (
    LOCAL_RUNNERS,
    UsageError,
    add_common_options,
    add_kafka_options,
    add_option,
    caption_options,
    create_topics_if_asked,
    kafka_config,
    make_pipeline,
    open_storage,
    required_env,
    topics,
)

log = logging.getLogger("autocaption")


def add_parser(commands: Any) -> None:
    stream = commands.add_parser(
        "stream",
        help="the service: video.uploaded events in, captions.ready/failed events out",
        description="Consume video.uploaded, caption each upload, write tracks to storage and "
        "produce captions.ready or captions.failed. On the local runner it runs micro-batches "
        "and commits offsets only after a batch's outputs are durable; SIGTERM finishes the "
        "running batch, a second SIGTERM abandons it (uncommitted, so it is replayed).",
    )
    add_kafka_options(stream)
    stream.add_argument("--storage", **required_env("storage"), help="storage URL for tracks")
    add_option(
        stream,
        "--max-batch-records",
        type=int,
        default=50,
        help="uploads per micro-batch at most (local runner)",
    )
    add_option(
        stream,
        "--max-batch-wait",
        type=float,
        default=2.0,
        help="seconds to gather a micro-batch after its first upload (local runner)",
    )
    add_option(
        stream,
        "--file-root",
        default=None,
        help="also accept file:// sources under this folder (by default: s3:// sources, and "
        "file:// ones under --storage when it is a local folder)",
    )
    add_option(
        stream,
        "--max-source-bytes",
        type=int,
        default=8 * 2**30,
        help="largest s3:// source staged for decoding (default 8 GiB)",
    )
    add_option(
        stream,
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus /metrics (and /healthz) on this port",
    )
    add_option(
        stream,
        "--exit-when-idle",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop after this long without uploads (draining, tests)",
    )
    add_common_options(stream)
    stream.set_defaults(run=run, parser=stream, takes_beam_options=True)


def file_roots(store: ObjectStore, file_root: str | None) -> tuple[str, ...]:
    """Where file:// sources may lie: the service's own storage when it is a local folder (the
    gateway stores uploads there), and --file-root."""
    roots = [str(store.root)] if isinstance(store, FileStore) else []
    if file_root:
        roots.append(os.path.abspath(file_root))
    return tuple(roots)


def run(args: argparse.Namespace, beam_args: list[str]) -> int:
    """Run the service until a signal (or `--exit-when-idle`) stops it."""
    from connectors.prometheus import ServiceMetrics, serve_metrics
    from pipelines.caption_stream import StreamSettings
    from pipelines.micro_batches import Shutdown, run_micro_batches

    store = open_storage(args.storage, "--storage")
    if args.max_batch_records < 1 or args.max_batch_wait < 0:
        raise UsageError("--max-batch-records must be >= 1 and --max-batch-wait >= 0")
    args.model, args.model_label = resolve_model(args.model)
    options = replace(
        caption_options(args, store.url),
        reuse_existing=True,
        file_roots=file_roots(store, args.file_root),
        max_source_bytes=args.max_source_bytes,
    )
    settings = StreamSettings(
        kafka_config(args), options, topics(args), args.max_batch_records, args.max_batch_wait
    )
    create_topics_if_asked(args)
    metrics = ServiceMetrics()
    if args.metrics_port is not None:
        server = serve_metrics(metrics, int(args.metrics_port))
        log.info("metrics on :%d/metrics", server.server_address[1])
    idle = float(args.exit_when_idle) if args.exit_when_idle is not None else None
    if args.runner.lower() not in LOCAL_RUNNERS:
        return run_unbounded(args, beam_args, settings, idle)
    shutdown = Shutdown()
    shutdown.install()
    log.info(
        "stream: %s -> %s, %s, %s (group %s, storage %s)",
        *settings.topics.service,
        settings.kafka.group_id,
        store.url,
        extra={"event": "started"},
    )
    run_micro_batches(
        settings,
        lambda: make_pipeline(args.runner, beam_args),
        metrics=metrics,
        shutdown=shutdown,
        idle_exit_s=idle,
    )
    log.info("stream: stopped", extra={"event": "stopped"})
    return 0


def run_unbounded(
    args: argparse.Namespace, beam_args: list[str], settings: Any, idle: float | None
) -> int:
    """The graph once, as a streaming pipeline over the unbounded Kafka source (Prism, Flink).

    The first SIGTERM (or Ctrl-C) drains: the source stops at its position, what was read is
    answered, the last offsets are committed as the runner finalizes those bundles, and the
    pipeline finishes (workers in this process: Prism, or LOOPBACK; on Flink, stop the job with
    `flink stop --drain`). A second one cancels the pipeline at once."""
    from connectors.kafka.admin import wait_for_topics
    from connectors.kafka.unbounded import drain
    from pipelines.caption_stream import build_unbounded

    wait_for_topics(settings.kafka, settings.topics.service)  # partitions are read at start
    pipeline = make_pipeline(args.runner, [*beam_args, "--streaming"])
    build_unbounded(pipeline, settings, stop_after_idle_s=idle)
    result = pipeline.run()
    signals = 0

    def stop(signum: int, frame: Any) -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            log.warning("signal %d: draining (reads stop, what was read is answered)", signum)
            drain()
        else:
            log.warning("second signal: cancelling the pipeline")
            result.cancel()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "stream: %s on %s -> %s, %s, %s (group %s)",
        settings.topics.uploaded,
        args.runner,
        settings.topics.ready,
        settings.topics.failed,
        settings.topics.updated,
        settings.kafka.group_id,
        extra={"event": "started"},
    )
    try:
        state = result.wait_until_finish()
        _wait_for_workers_to_leave()
    finally:
        # The runner's job server (Prism's own process) stops at interpreter exit, which this
        # command skips (`pipelines.cli.entry`): run the exit handlers now, or it stays behind.
        atexit._run_exitfuncs()
    log.info("stream: stopped (%s)", state, extra={"event": "stopped"})
    return 0 if signals < 2 else 143


def _wait_for_workers_to_leave(timeout_s: float = 10.0) -> None:
    """Wait until this process's SDK workers (LOOPBACK) closed their state streams: the runner
    tells them to stop when the job ends, and a job server stopped before they did resets the
    streams under them (a traceback from the SDK's `read_state` thread)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(t.name == "read_state" for t in threading.enumerate()):
            return
        time.sleep(0.05)
