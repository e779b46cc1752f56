"""`autocaption notify` as an operator runs it, against a real broker and a real HTTP receiver
that verifies every signature, goes down for a while and comes back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from connectors.kafka.admin import ensure_topics
from connectors.kafka.config import KafkaConfig
from connectors.webhooks import parse_secret
from devtools.webhook_receiver import Receiver
from tests.stream_service import collect, publish

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KINDS = ("captions.ready", "captions.failed", "captions.updated", "video.deleted")


def _topics(prefix: str) -> dict[str, str]:
    return {kind: prefix + kind for kind in (*KINDS, "webhooks.dead")}


@contextmanager
def notifying(bootstrap: str, topics: dict[str, str], *extra: str) -> Iterator[Path]:
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"notify-{uuid.uuid4().hex[:8]}.log"
    command = [
        sys.executable, "-m", "pipelines.cli", "--log-level", "INFO", "notify",
        "--bootstrap-servers", bootstrap, "--group-id", f"n-{uuid.uuid4().hex[:8]}",
        "--ready-topic", topics["captions.ready"], "--failed-topic", topics["captions.failed"],
        "--updated-topic", topics["captions.updated"],
        "--deleted-topic", topics["video.deleted"],
        "--dead-letter-topic", topics["webhooks.dead"], "--secret", SECRET, *extra,
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=log
        )
    try:
        yield log_path
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log_path.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in log_path.read_text(), log_path.read_text()[-3000:]


def _event(kind: str, video: str, n: int) -> bytes:
    return json.dumps(
        {"event_id": str(uuid.uuid4()), "video_id": video, "seq": n, "kind": kind,
         "occurred_at": "2026-12-07T10:00:00Z"}
    ).encode()  # fmt: skip


def _wait(receiver: Receiver, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while receiver.count() < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert receiver.count() >= count, (receiver.count(), count, receiver.received)


def _lag(bootstrap: str, group_topics: tuple[str, list[str]]) -> int:
    group, topics = group_topics
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        partitions = [
            TopicPartition(t, p)
            for t in topics
            for p in consumer.list_topics(t, timeout=10).topics[t].partitions
        ]
        committed = consumer.committed(partitions, timeout=10)
        lag = 0
        for tp in committed:
            end = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition))[1]
            lag += end - max(tp.offset, 0)
        return lag
    finally:
        consumer.close()


def test_every_event_reaches_a_receiver_that_goes_down_once_in_order_per_video(
    bootstrap_servers: str, topic_prefix: str
) -> None:
    topics = _topics(topic_prefix)
    ensure_topics(KafkaConfig(bootstrap_servers), list(topics.values()))
    receiver = Receiver(parse_secret(SECRET))
    receiver.start()
    videos = [f"v{i}" for i in range(12)]
    first = [(v, _event("captions.updated", v, n)) for n in range(5) for v in videos]
    publish(bootstrap_servers, topics["captions.updated"], first)
    ready = [(v, _event("captions.ready", v, 0)) for v in videos]
    publish(bootstrap_servers, topics["captions.ready"], ready)
    group = f"n-{uuid.uuid4().hex[:8]}"
    with notifying(
        bootstrap_servers, topics, "--url", receiver.url, "--group-id", group,
        "--max-retry-interval", "1",
    ) as log:  # fmt: skip
        _wait(receiver, len(first) + len(ready), 60)
        receiver.stop()  # down: refused connections, open ones cut
        later = [(v, _event("captions.updated", v, n)) for n in range(5, 10) for v in videos]
        publish(bootstrap_servers, topics["captions.updated"], later)
        deleted = [(v, _event("video.deleted", v, 0)) for v in videos]
        publish(bootstrap_servers, topics["video.deleted"], deleted)
        publish(bootstrap_servers, topics["captions.failed"], [(None, b"not json")])
        time.sleep(4)  # the notifier retries against a closed port meanwhile
        assert receiver.count() == len(first) + len(ready)
        receiver.start()  # back, on the same port
        total = len(first) + len(ready) + len(later) + len(deleted)
        _wait(receiver, total, 60)
        deadline = time.monotonic() + 20
        while _lag(bootstrap_servers, (group, list(topics.values())[:4])) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.5)
        assert _lag(bootstrap_servers, (group, list(topics.values())[:4])) == 0
        text = log.read_text()
    got = receiver.received
    assert got.forged == 0
    assert len(got.events) == total  # every event once (a repeat of an id is counted apart)
    assert got.repeats <= 12, got.repeats  # at most a POST per worker cut mid-answer
    for video in videos:
        updates = [
            e["data"]["seq"]
            for e in got.events
            if e["type"] == "captions.updated" and e["data"]["video_id"] == video
        ]
        assert updates == list(range(10)), (video, updates)
    kinds = {e["type"] for e in got.events}
    assert kinds == {"captions.ready", "captions.updated", "video.deleted"}
    assert all(e["webhook_id"] == e["data"]["event_id"] for e in got.events)
    assert "again in" in text  # it did retry while the receiver was down
    dead = collect(bootstrap_servers, [topics["webhooks.dead"]], lambda e: len(e) >= 1, 20)
    assert [d["event"] for d in dead] == ["not json"]
    assert dead[0]["error"].startswith("not an event")


def test_an_event_no_endpoint_takes_goes_to_the_dead_letter_topic_and_the_next_follows(
    bootstrap_servers: str, topic_prefix: str
) -> None:
    topics = _topics(topic_prefix)
    ensure_topics(KafkaConfig(bootstrap_servers), list(topics.values()))
    receiver = Receiver(parse_secret(SECRET))
    receiver.status = 500
    receiver.start()
    events = [("v1", _event("captions.ready", "v1", 0)), ("v1", _event("captions.ready", "v1", 1))]
    publish(bootstrap_servers, topics["captions.ready"], events)
    with notifying(
        bootstrap_servers, topics, "--url", receiver.url, "--give-up-after", "2",
        "--max-retry-interval", "0.5",
    ):  # fmt: skip
        dead = collect(bootstrap_servers, [topics["webhooks.dead"]], lambda e: len(e) >= 2, 40)
    assert [d["event"]["seq"] for d in dead] == [0, 1]  # in order, each after its retries
    assert all(d["error"] == "HTTP 500" and d["endpoint"] == receiver.url for d in dead)
    assert all(d["attempts"] >= 2 for d in dead)
    assert receiver.received.refused >= 4
    receiver.stop()


def test_endpoints_come_only_from_the_configuration(bootstrap_servers: str) -> None:
    from tests.cli_process import run_cli

    result = run_cli(
        "notify", "--bootstrap-servers", bootstrap_servers, "--url", "file:///etc/passwd",
        "--secret", SECRET,
    )  # fmt: skip
    assert result.returncode == 2
    assert "http(s) URL" in result.stderr
    result = run_cli("notify", "--bootstrap-servers", bootstrap_servers, "--url", "http://x")
    assert result.returncode == 2 and "--secret" in result.stderr
