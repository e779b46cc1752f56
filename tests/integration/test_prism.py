"""The production graph for real: `autocaption stream` as one unbounded streaming pipeline on
Beam's Prism runner (built from the Go module at the Beam version we pin), over the Kafka
splittable DoFn, against Apache Kafka and an S3 server, with the real Whisper weights.

Prism runs pipelines in streaming mode as a real runner does: unbounded splittable DoFns,
watermarks, state and timers, bundle finalization (where offsets are committed). One service
run answers good, broken, malformed and unsafe uploads, the same event twice and a re-upload
under the same id, then stops cleanly on SIGTERM with its offsets committed to the end; a
restart replays nothing already answered. Every service log of it holds no traceback.
"""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from devtools.services import prism_binary
from tests.stream_service import (
    Service,
    collect,
    collect_all,
    publish,
    upload,
    upload_event,
    wait_for_topics,
)


@pytest.fixture(scope="module")
def prism() -> Path:
    return prism_binary()


def prism_args(prism: Path) -> list[str]:
    return ["--runner", "PrismRunner", f"--prism_location={prism}", "--environment_type=LOOPBACK"]


def test_the_stream_service_runs_unbounded_on_prism(
    bootstrap_servers: str, bucket: str, real_model: Path, topic_prefix: str, prism: Path, media
) -> None:  # type: ignore[no-untyped-def]
    service = Service(
        bootstrap_servers, bucket, real_model, topic_prefix, f"g-{uuid.uuid4().hex[:8]}"
    )
    talk = upload(bucket, "p-talk", media("mp4", name="p-talk.mp4"))
    lecture = upload(bucket, "p-lecture", media("webm", name="p-lecture.webm", clip="speech_b"))
    broken = upload(bucket, "p-text", media("text_mp4", name="p-text.mp4"))
    twice = upload_event("p-talk", talk)
    messages: list[tuple[str | None, bytes]] = [
        ("p-talk", twice),
        ("p-talk", twice),  # the same event delivered twice: one job
        ("p-lecture", upload_event("p-lecture", lecture)),
        ("p-text", upload_event("p-text", broken)),
        ("p-gone", upload_event("p-gone", f"s3://{bucket}/videos/p-gone/none.mp4")),
        ("bad-json", b"{not json"),
        (None, upload_event("../../etc/passwd", talk)),
    ]
    answers_topics = [service.topics["captions.ready"], service.topics["captions.failed"]]
    service.start(*prism_args(prism))
    try:
        wait_for_topics(bootstrap_servers, list(service.topics.values()))
        publish(bootstrap_servers, service.topics["video.uploaded"], messages)
        events = collect(bootstrap_servers, answers_topics, lambda e: len(e) >= 6, timeout=240)
        # A re-upload under the same id (a new event, the same file) is answered again.
        again = upload_event("p-lecture", lecture)
        publish(bootstrap_servers, service.topics["video.uploaded"], [("p-lecture", again)])
        events = collect(
            bootstrap_servers,
            answers_topics,
            lambda e: sum(x["video_id"] == "p-lecture" for x in e) >= 2,
            timeout=180,
        )
        assert service.alive(), service.log_text()[-3000:]
        assert service.stop(signal.SIGTERM, timeout=120) == 0, service.log_text()[-3000:]
        # Stopped: every answer it ever wrote, a late duplicate too if there were one.
        events = collect_all(bootstrap_servers, answers_topics)
    finally:
        if service.alive():
            service.stop(signal.SIGKILL)
    log = service.log_text()
    assert "Traceback" not in log, log[-4000:]
    assert '"event": "stopped"' in log

    by_upload: dict[str, set[str]] = {}
    for event in events:
        by_upload.setdefault(event["upload_event_id"] or event["raw"][:40], set()).add(
            event["event_id"]
        )
    assert all(len(ids) == 1 for ids in by_upload.values())  # one answer (id) per upload
    answers = {(e["_key"], e["status"], (e.get("error") or {}).get("code")) for e in events}
    assert answers == {
        ("p-talk", "ready", None),
        ("p-lecture", "ready", None),
        ("p-text", "failed", "unsupported_media"),
        ("p-gone", "failed", "source_not_found"),
        ("bad-json", "failed", "invalid_event"),
        (None, "failed", "invalid_event"),
    }
    lectures = {e["upload_event_id"] for e in events if e["video_id"] == "p-lecture"}
    assert len(lectures) == 2  # the re-upload got an answer of its own
    ready = next(e for e in events if e["video_id"] == "p-talk" and e["status"] == "ready")
    assert ready["language"] == "en" and any(t["format"] == "vtt" for t in ready["tracks"])

    # The offsets were committed to the end: a restart replays nothing already answered.
    uploaded = service.topics["video.uploaded"]
    assert _committed(bootstrap_servers, service.group, uploaded) == _ends(
        bootstrap_servers, uploaded
    )
    answered = len(events)
    service.start(*prism_args(prism), "--exit-when-idle", "6")
    assert service.wait(timeout=180) == 0, service.log_text()[-3000:]
    assert "Traceback" not in service.log_text()
    after = collect_all(bootstrap_servers, answers_topics)
    assert len(after) == answered, [e["video_id"] for e in after]


def _committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        offsets = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        return {tp.partition: tp.offset for tp in offsets}
    finally:
        consumer.close()


def _ends(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions
        }
    finally:
        consumer.close()
