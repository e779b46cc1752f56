"""`autocaption stream` as a subprocess, and the Kafka and S3 helpers its tests talk through.

Shared by the stream service's tests and the gateway's: the service runs exactly as an operator
starts it; tests see it only through Kafka topics, S3 objects and its /metrics endpoint.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from confluent_kafka import Consumer, Producer, TopicPartition

from connectors.kafka.admin import ensure_topics
from connectors.kafka.config import KafkaConfig
from devtools.services import free_port

ROOT = Path(__file__).resolve().parents[1]


class Service:
    """One `autocaption stream` process and the names it was started with."""

    def __init__(
        self,
        bootstrap: str,
        bucket: str,
        model: Path,
        prefix: str,
        group: str,
        storage: str | None = None,
    ) -> None:
        """`storage`: a storage URL of its own (a local folder); default `s3://<bucket>`."""
        self.bootstrap = bootstrap
        self.bucket = bucket
        self.storage = storage or f"s3://{bucket}"
        self.model = model
        self.prefix = prefix
        self.group = group
        self.metrics_port = free_port()
        self.process: subprocess.Popen[str] | None = None
        self.topics = {
            name: prefix + name
            for name in (
                "video.uploaded",
                "captions.ready",
                "captions.failed",
                "captions.updated",
                "video.deleted",
            )
        }

    def start(self, *extra: str, create_topics: bool = True) -> None:
        command = [
            sys.executable, "-m", "pipelines.cli", "--log-format", "json", "--log-level", "INFO",
            "stream", "--bootstrap-servers", self.bootstrap, "--storage", self.storage,
            "--model", str(self.model), "--group-id", self.group,
            *(["--create-topics"] if create_topics else []),
            "--uploaded-topic", self.topics["video.uploaded"],
            "--ready-topic", self.topics["captions.ready"],
            "--failed-topic", self.topics["captions.failed"],
            "--updated-topic", self.topics["captions.updated"],
            "--deleted-topic", self.topics["video.deleted"],
            "--max-batch-wait", "0.5", "--metrics-port", str(self.metrics_port),
            "--kafka-option", "session.timeout.ms=6000", *extra,
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"stream-{self.group}.log", "a")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, env=env, stdout=self.log, stderr=subprocess.STDOUT, text=True
        )

    def wait(self, timeout: float) -> int:
        """Wait for the service to end by itself (`--exit-when-idle`)."""
        assert self.process is not None
        code = self.process.wait(timeout=timeout)
        self.log.close()
        return code

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        self.log.close()
        return code

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()

    def log_text(self) -> str:
        return Path(self.log.name).read_text()


@contextmanager
def running(service: Service, *extra: str) -> Iterator[Service]:
    """The service, started and, at the end, killed; its log must hold no traceback."""
    service.start(*extra)
    try:
        yield service
    finally:
        if service.alive():
            service.stop(signal.SIGKILL)
    assert "Traceback" not in service.log_text(), service.log_text()[-4000:]


def upload(bucket: str, video_id: str, path: Path) -> str:
    key = f"videos/{video_id}/{path.name}"
    boto3.client("s3").upload_file(str(path), bucket, key)
    return f"s3://{bucket}/{key}"


def publish(bootstrap: str, topic: str, messages: list[tuple[str | None, bytes]]) -> None:
    """Produce `messages` to `topic` (made first if missing, as an operator provisions it);
    fails unless the broker acknowledged every one."""
    ensure_topics(KafkaConfig(bootstrap), [topic])
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    errors: list[str] = []

    def delivered(error: Any, message: Any) -> None:
        if error is not None:
            errors.append(str(error))

    for key, value in messages:
        producer.produce(topic, key=key, value=value, on_delivery=delivered)
    assert producer.flush(30) == 0 and errors == [], errors


def upload_event(video_id: str, source: str) -> bytes:
    return json.dumps(
        {"event_id": str(uuid.uuid4()), "video_id": video_id, "source": source,
         "occurred_at": "2026-11-26T10:00:00Z"}
    ).encode()  # fmt: skip


def collect(
    bootstrap: str, topics: list[str], done: Callable[[list[dict[str, Any]]], bool], timeout: float
) -> list[dict[str, Any]]:
    """Every event on `topics` from the beginning, until `done(events)` or the timeout."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex[:6]}",
         "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    )  # fmt: skip
    partitions = []
    for topic in topics:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        partitions += [TopicPartition(topic, p, 0) for p in metadata.partitions]
    consumer.assign(partitions)
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not done(events):
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            event = json.loads(message.value())
            event["_topic"] = message.topic()
            event["_key"] = message.key().decode() if message.key() else None
            events.append(event)
    finally:
        consumer.close()
    return events


def collect_all(bootstrap: str, topics: list[str], timeout: float = 30) -> list[dict[str, Any]]:
    """Every event on `topics` up to their ends as they are now: once whoever writes them has
    stopped, all there will ever be, read without waiting out a timeout."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex}"})
    try:
        ends = {
            (topic, p): consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for topic in topics
            for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions
        }
    finally:
        consumer.close()
    total = sum(ends.values())  # every topic is read from offset 0
    events = collect(bootstrap, topics, lambda e: len(e) >= total, timeout)
    assert len(events) == total, f"read {len(events)} of {total} events"
    return events


def wait_for_topics(bootstrap: str, topics: list[str], timeout: float = 60) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe"})
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            found = consumer.list_topics(timeout=5).topics
            if all(t in found and found[t].partitions for t in topics):
                return
            time.sleep(0.2)
    finally:
        consumer.close()
    raise AssertionError(f"topics {topics} never appeared")


def s3_keys(bucket: str, prefix: str) -> list[str]:
    pages = (
        boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    )
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def s3_text(bucket: str, key: str) -> str:
    return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
