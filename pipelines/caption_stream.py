"""`caption_stream`: `video.uploaded` events in, `captions.ready` / `captions.failed` out
(and `captions.updated` for tracks made again at the captions API's request).

    ReadFromKafka -> ParseUploads -> CaptionVideos -> CaptionEvents -> WriteToKafka
                          \\-> (invalid events) ------------------------^

On streaming runners (Flink) this graph runs once over the unbounded source (`build_unbounded`);
on the local runner (a batch runner) the service is a loop of bounded micro-batches over the
same graph (`build_batch`, looped by `pipelines.micro_batches`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from connectors.kafka.config import KafkaConfig, Topics
from connectors.kafka.read import ReadFromKafka
from connectors.kafka.records import KafkaRecord
from connectors.kafka.write import WriteToKafka
from schemas.errors import CaptionError, ErrorCode, Failure
from schemas.events import CaptionsFailed, CaptionsReady, UploadRequest, parse_upload_event
from schemas.ids import is_safe_video_id
from transforms.caption import CaptionVideos
from transforms.domain import CaptionResult
from transforms.settings import CaptionOptions

log = logging.getLogger("autocaption.stream")
INVALID = "invalid"


@dataclass(frozen=True)
class StreamSettings:
    kafka: KafkaConfig
    caption: CaptionOptions
    topics: Topics = field(default_factory=Topics)
    max_batch_records: int = 50
    max_batch_wait_s: float = 2.0


class ParseUploads(beam.DoFn):
    """Kafka records -> `UploadRequest`s; anything else -> a `captions.failed` event (tagged)
    with code `invalid_event` and the raw message, so a bad message never stops the service."""

    def __init__(self, settings: StreamSettings) -> None:
        self.topic = settings.topics.failed
        self.file_roots = settings.caption.file_roots
        self.invalid = Metrics.counter("autocaption", "events_invalid")

    def process(self, record: KafkaRecord) -> Iterator[Any]:
        raw = record.value or b""
        try:
            request = parse_upload_event(raw)
            if request.source.startswith("file://") and not self.file_roots:
                raise CaptionError(
                    ErrorCode.INVALID_EVENT,
                    "source: file:// sources are not accepted (the service's storage is not a "
                    "local folder, and it has no --file-root)",
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


def answer_events(
    result: CaptionResult, topics: Topics, version: str
) -> list[tuple[str, str, str]]:
    """The answer to one upload, then, when its captions were asked for again through the
    captions API, one `captions.updated` per revision it made: (topic, key, JSON) each."""
    events = [caption_event(result, topics, version)]
    if result.request is not None and result.request.regenerate:
        for change in result.changes:
            refs = [
                t for t in result.tracks if t.language == change.language and t.format != "json"
            ]
            updated = change.event(result.video_id, refs if change.current else [])
            events.append((topics.updated, result.video_id, updated.to_json()))
    return events


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
            | "CaptionEvents"
            >> beam.FlatMap(answer_events, settings.topics, settings.caption.version)
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
