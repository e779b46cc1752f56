"""`autocaption backfill --bootstrap-servers ...`: a library captioned by a fleet of workers.

Each manifest row becomes one upload event on the backfill topic (`video.backfill`), which a
fleet of stream services of its own answers (`autocaption stream --uploaded-topic
video.backfill --group-id backfill`, one per core or machine), so live uploads keep theirs and
are never starved. The answers are collected from `captions.ready` / `captions.failed` by
upload event id (everybody else's answers are passed over) into the same Parquet report as the
local job, with the same progress on a terminal.

Event ids are deterministic (the row's video id, source, language and vocabulary): a backfill
that was interrupted and is run again asks the same questions, and with `--skip-existing` rows
whose ready manifest already exists (same source, pipeline version and model) are reported
`skipped` and not asked at all. A worker that dies mid-batch leaves its batch uncommitted; the
group gives it to another worker, whose answer (the same event id) is taken once.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from connectors.kafka.config import KafkaConfig, Topics
from connectors.kafka.write import EventPublisher
from connectors.storage.layout import manifest_key
from connectors.storage.store import ObjectStore
from connectors.tables import write_table
from library.catalog import precise_timestamp
from library.videos import read_manifest
from pipelines.caption_backfill import report_row
from schemas.arrow import ReportRow, report_table
from schemas.errors import ErrorCode, Failure
from schemas.events import UploadRequest
from schemas.ids import derived_event_id
from transforms import progress
from transforms.domain import CaptionResult, failed_result, is_reusable, result_from_manifest
from transforms.settings import CaptionOptions

log = logging.getLogger("autocaption.backfill")

QUIET_WARNING_S = 60.0  # say so when no worker answered for this long


@dataclass
class Asked:
    """One row put to the fleet: its event, and when."""

    request: UploadRequest
    published_at: float


def fleet_request(request: UploadRequest) -> UploadRequest:
    """The row's upload event, with an id that depends only on what the row asks."""
    event_id = derived_event_id(
        "video.backfill",
        request.video_id,
        request.source,
        request.language,
        ",".join(request.translate_to),
        request.hotwords,
        request.initial_prompt,
    )
    return UploadRequest(
        video_id=request.video_id,
        source=request.source,
        language=request.language,
        translate_to=request.translate_to,
        event_id=event_id,
        occurred_at=precise_timestamp(),
        hotwords=request.hotwords,
        initial_prompt=request.initial_prompt,
    )


def backfill_through_fleet(
    requests: Sequence[UploadRequest],
    invalid: Sequence[ReportRow],
    *,
    store: ObjectStore,
    options: CaptionOptions,
    kafka: KafkaConfig,
    topics: Topics,
    report: str,
    skip_existing: bool = False,
    wait_s: float | None = None,
) -> list[dict[str, Any]]:
    """Ask the fleet to caption `requests`, collect every answer, write the report; returns
    its rows. Raises `TimeoutError` when `wait_s` passed with rows unanswered."""
    rows: list[dict[str, Any]] = []
    to_ask: list[UploadRequest] = []
    for request in requests:
        key = manifest_key(request.video_id)
        existing = read_manifest(store, key) if skip_existing else None
        if existing is not None and is_reusable(existing, request, options):
            result = result_from_manifest(existing, store.uri(key), request)
            progress.report("skipped", request.video_id, result=result)
            rows.append(report_row(result))
        else:
            to_ask.append(fleet_request(request))
    answers = _AnswerReader(kafka, [topics.ready, topics.failed])  # from the ends, before asking
    try:
        asked = _publish(kafka, topics.uploaded, to_ask)
        log.info("backfill: %d rows asked on %s", len(asked), topics.uploaded)
        rows += _collect(answers, asked, store, options.whisper.model_label, wait_s)
    finally:
        answers.close()
    ordered = sorted(rows, key=lambda r: r["video_id"] or "")
    write_table(report, report_table([*ordered, *invalid]))
    return [*ordered, *(asdict(row) for row in invalid)]


def _publish(kafka: KafkaConfig, topic: str, requests: Sequence[UploadRequest]) -> dict[str, Asked]:
    publisher = EventPublisher(kafka)
    try:
        now = time.monotonic()
        publisher.publish_all(topic, [(r.video_id, r.to_json().encode("utf-8")) for r in requests])
        return {r.event_id or "": Asked(r, now) for r in requests}
    finally:
        publisher.close()


class _AnswerReader:
    """The answer topics, read from where they end now: every answer to what is asked next."""

    def __init__(self, kafka: KafkaConfig, answer_topics: Sequence[str]) -> None:
        group = f"autocaption-backfill-{uuid.uuid4().hex[:12]}"  # reads only, commits nothing
        self.consumer = Consumer(kafka.consumer_config(**{"group.id": group}))
        partitions = []
        for topic in answer_topics:
            metadata = self.consumer.list_topics(topic, timeout=30).topics[topic]
            if metadata.error is not None:
                raise RuntimeError(f"topic {topic}: {metadata.error}")
            for partition in metadata.partitions:
                end = self.consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=30
                )[1]
                partitions.append(TopicPartition(topic, partition, end))
        self.consumer.assign(partitions)

    def poll(self, timeout_s: float) -> dict[str, Any] | None:
        message = self.consumer.poll(timeout_s)
        if message is None or message.error() is not None:
            return None
        try:
            event = json.loads(message.value() or b"")
        except (ValueError, TypeError):
            return None
        return event if isinstance(event, dict) else None

    def close(self) -> None:
        self.consumer.close()


def _collect(
    answers: _AnswerReader,
    asked: dict[str, Asked],
    store: ObjectStore,
    model: str,
    wait_s: float | None,
    clock: Callable[[], float] = time.monotonic,
) -> list[dict[str, Any]]:
    rows = []
    waiting = dict(asked)
    started = last_answer = clock()
    while waiting:
        now = clock()
        if wait_s is not None and now - started > wait_s:
            raise TimeoutError(f"{len(waiting)} of {len(asked)} rows unanswered after {wait_s} s")
        if now - last_answer > QUIET_WARNING_S:
            log.warning(
                "no answer for %.0f s, %d rows waiting: is a fleet of `autocaption stream "
                "--uploaded-topic <this topic>` running?",
                now - last_answer,
                len(waiting),
            )
            last_answer = now
        event = answers.poll(0.5)
        if event is None or event.get("upload_event_id") not in waiting:
            continue  # nothing yet, somebody else's, or an answer already taken
        entry = waiting.pop(event["upload_event_id"])
        last_answer = clock()
        result = _result(event, entry, store, model, last_answer - entry.published_at)
        progress.report(result.status, result.video_id, result=result)
        rows.append(report_row(result))
    return rows


def _result(
    event: dict[str, Any], asked: Asked, store: ObjectStore, model: str, seconds: float
) -> CaptionResult:
    """The answer as the local job's `CaptionResult`, so both make the same report rows."""
    request = asked.request
    if event.get("status") == "ready":
        manifest = read_manifest(store, manifest_key(request.video_id))
        return CaptionResult(
            video_id=request.video_id,
            source=request.source,
            status="ready",
            manifest_uri=str(event.get("manifest_uri", "")),
            language=event.get("language"),
            duration_s=float(event.get("duration_s") or 0.0),
            cues=(manifest.cues or 0) if manifest else 0,
            processing_s=seconds,
            request=request,
            model=str(event.get("model", "")),
        )
    error = event.get("error") or {}
    try:
        code = ErrorCode(str(error.get("code")))
    except ValueError:
        code = ErrorCode.INTERNAL
    failure = Failure(request.video_id, code, str(error.get("message", "")))
    return failed_result(request, failure, seconds, model)
