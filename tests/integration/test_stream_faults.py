"""`autocaption stream` through what production throws at it, on the local runner: topics that
do not exist yet when it starts, and a broker restart in the middle of the work.

Apache Kafka (a node of its own where it is restarted), moto_server for S3, the service as a
subprocess; a scripted model, since these tests count answers, not words.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import boto3
import pytest

from connectors.kafka.admin import ensure_topics
from connectors.kafka.config import KafkaConfig
from devtools.services import running_kafka
from tests.stream_service import (
    Service,
    collect,
    publish,
    running,
    upload,
    upload_event,
    wait_for_topics,
)


def test_a_service_started_before_its_topics_waits_for_them_then_answers(
    bootstrap_servers: str, bucket: str, scripted_model: Path, topic_prefix: str, media
) -> None:  # type: ignore[no-untyped-def]
    service = Service(bootstrap_servers, bucket, scripted_model, topic_prefix, f"g-{topic_prefix}")
    path = media("mp3", name="early.mp3", clip="speech_b")
    message = ("early", upload_event("early", upload(bucket, "early", path)))
    service.start(create_topics=False)
    try:
        deadline = time.monotonic() + 30
        while "topics_missing" not in service.log_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # a few rounds of asking again
        assert service.alive(), service.log_text()[-3000:]
        assert "topics_missing" in service.log_text()
        ensure_topics(KafkaConfig(bootstrap_servers), list(service.topics.values()))
        publish(bootstrap_servers, service.topics["video.uploaded"], [message])
        events = collect(
            bootstrap_servers, [service.topics["captions.ready"]], lambda e: len(e) >= 1, 120
        )
        assert [e["video_id"] for e in events] == ["early"], service.log_text()[-3000:]
        assert "internal error" not in service.log_text()
    finally:
        service.stop()


@pytest.mark.timeout(600)
def test_a_broker_restart_mid_stream_loses_nothing(
    s3_endpoint: str, scripted_model: Path, media
) -> None:  # type: ignore[no-untyped-def]
    bucket = f"restart-{uuid.uuid4().hex[:8]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    ids = [f"restart-{i:02d}" for i in range(16)]  # eight batches of two: a long stream
    path = media("mp4", name="restart.mp4", clip="speech_b")
    messages = [(v, upload_event(v, upload(bucket, v, path))) for v in ids]
    with running_kafka() as broker:
        group = f"g-restart-{uuid.uuid4().hex[:6]}"
        service = Service(broker.bootstrap, bucket, scripted_model, "r.", group)
        ready = service.topics["captions.ready"]
        publish(broker.bootstrap, service.topics["video.uploaded"], messages)
        with running(service, "--max-batch-records", "2"):
            wait_for_topics(broker.bootstrap, list(service.topics.values()))
            first = collect(broker.bootstrap, [ready], lambda e: len(e) >= 2, timeout=120)
            assert first and len(first) < len(ids), service.log_text()[-3000:]
            broker.stop()  # the broker goes away mid-stream, for a while
            time.sleep(8)
            broker.start()
            events = collect(
                broker.bootstrap,
                [ready, service.topics["captions.failed"]],
                lambda e: {x["video_id"] for x in e} >= set(ids),
                timeout=300,
            )
            assert service.alive(), service.log_text()[-3000:]
    by_video: dict[str, set[str]] = {}
    for event in events:
        assert event["status"] == "ready", event
        by_video.setdefault(event["video_id"], set()).add(event["event_id"])
    assert set(by_video) == set(ids), service.log_text()[-3000:]
    assert all(len(event_ids) == 1 for event_ids in by_video.values())  # repeats share the id
