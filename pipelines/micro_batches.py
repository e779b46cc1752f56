"""The stream service on the local runner: a loop of bounded micro-batches.

Plan the offsets to read (`BatchPlanner`), run `caption_stream.build_batch` over exactly those
ranges, and commit them only after the run succeeded, that is after every track, manifest and
event of the batch is durable. A crash before the commit replays the batch; deterministic keys
and event ids make the replay harmless.
"""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType
from typing import Any

from apache_beam.metrics.metric import MetricsFilter

from connectors.kafka.admin import wait_for_topics
from connectors.kafka.planner import BatchPlanner
from connectors.prometheus import ServiceMetrics
from pipelines.caption_stream import StreamSettings, build_batch

log = logging.getLogger("autocaption.stream")


class Shutdown:
    """SIGTERM/SIGINT once: finish the running batch (commit it), then stop. Twice: abandon it
    now; its offsets stay uncommitted, so the next start replays it."""

    def __init__(self) -> None:
        self.requested = False
        self.in_batch = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested or not self.in_batch:
            self.requested = True
            if self.in_batch:
                log.warning("second signal: abandoning the running batch (not committed)")
                raise SystemExit(143)
            return
        self.requested = True
        log.warning("signal %d: finishing the running batch, then stopping", signum)


def batch_counters(result: Any) -> dict[str, int]:
    """The autocaption counters of one finished pipeline run."""
    counters: dict[str, int] = {}
    try:
        query = result.metrics().query(MetricsFilter().with_namespace("autocaption"))
    except Exception:  # a runner without metrics support
        return counters
    for counter in query.get("counters", []):
        name = counter.key.metric.name
        counters[name] = counters.get(name, 0) + int(counter.committed or counter.attempted or 0)
    return counters


def run_micro_batches(
    settings: StreamSettings,
    make_pipeline: Any,
    *,
    metrics: ServiceMetrics | None = None,
    shutdown: Shutdown | None = None,
    max_batches: int | None = None,
    idle_exit_s: float | None = None,
) -> int:
    """The service loop on the local runner. Returns the number of batches run.

    `max_batches` / `idle_exit_s` end the loop early (tests, draining); by default it runs
    until a signal asks it to stop."""
    shutdown = shutdown or Shutdown()
    topics = settings.topics.service
    if not wait_for_topics(settings.kafka, topics, stop=lambda: shutdown.requested):
        return 0  # asked to stop while waiting
    planner = BatchPlanner(settings.kafka, topics=[settings.topics.uploaded])
    batches = 0
    idle_since = time.monotonic()
    failures = 0
    try:
        while not shutdown.requested:
            if max_batches is not None and batches >= max_batches:
                break
            ranges = planner.plan(settings.max_batch_records, settings.max_batch_wait_s)
            if not ranges:
                if idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                    break
                continue
            records = sum((r.stop or r.start) - r.start for r in ranges)
            started = time.monotonic()
            shutdown.in_batch = True
            try:
                pipeline = make_pipeline()
                build_batch(pipeline, settings, ranges)
                result = pipeline.run()
                result.wait_until_finish()
            except SystemExit:
                raise
            except Exception as exc:  # infrastructure trouble: replay the batch later
                failures += 1
                delay = min(60.0, 2.0**failures)
                log.error(
                    "batch of %d records failed, retrying in %.0f s: %s: %s",
                    records,
                    delay,
                    type(exc).__name__,
                    exc,
                    extra={"event": "batch_failed", "records": records},
                )
                planner.rewind(ranges)
                if metrics is not None:
                    metrics.inc("batches_failed")
                time.sleep(delay)
                continue
            finally:
                shutdown.in_batch = False
            failures = 0
            announced = planner.event_times(ranges)
            planner.commit(ranges)
            committed = time.time()
            batches += 1
            idle_since = time.monotonic()
            seconds = time.monotonic() - started
            counters = batch_counters(result)
            if metrics is not None:
                metrics.record_batch(records, seconds, counters)
                metrics.observe_answers(committed - t for t in announced)
            log.info(
                "batch %d: %d records in %.2f s (%s)",
                batches,
                records,
                seconds,
                ", ".join(f"{k}={v}" for k, v in sorted(counters.items())) or "no counters",
                extra={
                    "event": "batch_done",
                    "records": records,
                    "seconds": round(seconds, 3),
                    **counters,
                },
            )
    finally:
        planner.close()
    return batches
