"""`caption_stream`: `video.uploaded` events in, `captions.ready` / `captions.failed` out.

    ReadFromKafka -> ParseUploads -> CaptionVideos -> CaptionEvents -> WriteToKafka
                          \\-> (invalid events) ------------------------^

On the local runner (a batch runner) the service is a loop of bounded micro-batches: plan the
offsets to read, run this graph over exactly those ranges, and commit them only after the run
succeeded, that is after every track, manifest and event of the batch is durable. A crash
before the commit replays the batch; deterministic keys and event ids make the replay harmless.
On streaming runners (Flink) the same graph runs once over the unbounded source.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter

from connectors.kafka import BatchPlanner, KafkaConfig, KafkaRecord, ReadFromKafka, WriteToKafka
from schemas.errors import CaptionError, ErrorCode, Failure
from schemas.events import (
    CaptionsFailed,
    CaptionsReady,
    UploadRequest,
    is_safe_video_id,
    parse_upload_event,
)
from transforms.caption import CaptionOptions, CaptionResult, CaptionVideos

log = logging.getLogger("autocaption.stream")
INVALID = "invalid"


@dataclass(frozen=True)
class Topics:
    uploaded: str = "video.uploaded"
    ready: str = "captions.ready"
    failed: str = "captions.failed"


@dataclass(frozen=True)
class StreamSettings:
    kafka: KafkaConfig
    caption: CaptionOptions
    topics: Topics = Topics()
    max_batch_records: int = 50
    max_batch_wait_s: float = 2.0


class ParseUploads(beam.DoFn):
    """Kafka records -> `UploadRequest`s; anything else -> a `captions.failed` event (tagged)
    with code `invalid_event` and the raw message, so a bad message never stops the service."""

    def __init__(self, settings: StreamSettings) -> None:
        self.topic = settings.topics.failed
        self.file_root = settings.caption.file_root
        self.invalid = Metrics.counter("autocaption", "events_invalid")

    def process(self, record: KafkaRecord) -> Iterator[Any]:
        raw = record.value or b""
        try:
            request = parse_upload_event(raw)
            if request.source.startswith("file://") and not self.file_root:
                raise CaptionError(
                    ErrorCode.INVALID_EVENT,
                    "source: file:// sources are not accepted (the service has no --file-root)",
                )
            yield request
        except CaptionError as exc:
            self.invalid.inc()
            key = record.key.decode("utf-8", "replace") if record.key else None
            failure = Failure(key if is_safe_video_id(key) else None, exc.code, exc.message)
            event = CaptionsFailed.for_failure(failure, raw=raw)
            log.warning(
                "invalid event at %s/%d@%d: %s",
                record.topic,
                record.partition,
                record.offset,
                exc.message,
                extra={"event": "invalid_event", "offset": record.offset},
            )
            yield beam.pvalue.TaggedOutput(INVALID, (self.topic, failure.video_id, event.to_json()))


def caption_event(result: CaptionResult, topics: Topics, version: str) -> tuple[str, str, str]:
    """The event that answers one upload: (topic, key, JSON)."""
    request = result.request or UploadRequest(result.video_id, result.source)
    if result.status == "ready":
        ready = CaptionsReady.for_upload(
            request,
            language=result.language or "und",
            duration_s=result.duration_s,
            tracks=result.tracks,
            manifest_uri=result.manifest_uri,
            model=result.model,
            pipeline_version=version,
        )
        return topics.ready, result.video_id, ready.to_json()
    failure = result.failure or Failure(result.video_id, ErrorCode.INTERNAL, "unknown failure")
    failed = CaptionsFailed.for_failure(
        failure, request=request, raw=request.to_json(), pipeline_version=version
    )
    return topics.failed, result.video_id, failed.to_json()


class CaptionUploads(beam.PTransform):
    """Kafka records of `video.uploaded` -> events written to the answer topics."""

    def __init__(self, settings: StreamSettings) -> None:
        super().__init__()
        self.settings = settings

    def expand(self, records: beam.PCollection) -> beam.pvalue.PDone:
        settings = self.settings
        parsed = records | "ParseUploads" >> beam.ParDo(ParseUploads(settings)).with_outputs(
            INVALID, main="uploads"
        )
        answers = (
            parsed.uploads
            | "CaptionVideos" >> CaptionVideos(settings.caption)
            | "CaptionEvents" >> beam.Map(caption_event, settings.topics, settings.caption.version)
        )
        return (
            (answers, parsed[INVALID])
            | "Events" >> beam.Flatten()
            | "WriteEvents" >> (WriteToKafka(settings.kafka))
        )


def build_batch(pipeline: beam.Pipeline, settings: StreamSettings, ranges: Sequence[Any]) -> None:
    """One micro-batch: exactly `ranges` of the uploads topic, bounded."""
    _ = (
        pipeline
        | "ReadUploads" >> ReadFromKafka(settings.kafka, ranges=list(ranges))
        | "CaptionUploads" >> CaptionUploads(settings)
    )


def build_unbounded(
    pipeline: beam.Pipeline, settings: StreamSettings, stop_after_idle_s: float | None = None
) -> None:
    """The whole service as one streaming pipeline (Flink and other streaming runners).
    `stop_after_idle_s` drains and ends it after that long without uploads."""
    read = ReadFromKafka(
        settings.kafka,
        topics=[settings.topics.uploaded],
        unbounded=True,
        stop_after_idle_s=stop_after_idle_s,
    )
    _ = pipeline | "ReadUploads" >> read | "CaptionUploads" >> CaptionUploads(settings)


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
    metrics: Any = None,
    shutdown: Shutdown | None = None,
    max_batches: int | None = None,
    idle_exit_s: float | None = None,
) -> int:
    """The service loop on the local runner. Returns the number of batches run.

    `max_batches` / `idle_exit_s` end the loop early (tests, draining); by default it runs
    until a signal asks it to stop."""
    shutdown = shutdown or Shutdown()
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
            planner.commit(ranges)
            batches += 1
            idle_since = time.monotonic()
            seconds = time.monotonic() - started
            counters = batch_counters(result)
            if metrics is not None:
                metrics.record_batch(records, seconds, counters)
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
