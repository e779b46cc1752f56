"""End-to-end latency of the stream service: `video.uploaded` published -> `captions.ready` read.

    .venv/bin/python -m benchmarks.stream_latency --uploads 10 --dims tiny

Starts a Tansu broker and a moto S3 server on loopback (as the tests do), the real
`autocaption stream` service with an offline-built model, uploads a 30-second talk to S3 and
publishes its event once per `--interval` seconds. Prints p50/p95/max latency, and the same
for the pure captioning time of one upload (`autocaption caption` on the same file, minus the
process start) so the service's own overhead can be read off.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
from confluent_kafka import Consumer, Producer, TopicPartition

from tests.fixtures.media import make_media
from tests.fixtures.whisper_model import build_whisper_model
from tests.services import free_port, kafka_broker, s3_server


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--dims", default="micro", choices=("micro", "tiny"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="autocaption-latency-"))
    model = build_whisper_model(work / "model", dims=args.dims)
    talk = make_media("mp4", work, name="talk30.mp4", duration_s=30.0)
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    with kafka_broker() as bootstrap, s3_server() as endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="bench")
        service = subprocess.Popen(
            [
                sys.executable, "-m", "pipelines.cli", "stream", "--bootstrap-servers", bootstrap,
                "--storage", "s3://bench", "--model", str(model), "--create-topics",
                "--max-batch-wait", "0.2", "--kafka-option", "session.timeout.ms=6000",
                "--metrics-port", str(free_port()),
            ],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            latencies = run_uploads(bootstrap, s3, talk, args.uploads, args.interval)
        finally:
            service.terminate()
            service.wait(timeout=60)
    caption_times = []
    for _ in range(3):
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "caption", str(talk), "--out",
             str(work / "out"), "--model", str(model)],
            check=True, capture_output=True,
        )  # fmt: skip
        caption_times.append(time.monotonic() - started)
    print(
        f"model dims {args.dims}; {args.uploads} uploads of a 30 s talk, one per {args.interval} s"
    )
    print("| measure | p50 | p95 | max |")
    print("| --- | --- | --- | --- |")
    for name, values in (
        ("event -> captions.ready", latencies),
        ("caption CLI, whole process", caption_times),
    ):
        print(
            f"| {name} | {percentile(values, 0.5):.2f} s | {percentile(values, 0.95):.2f} s "
            f"| {max(values):.2f} s |"
        )


def run_uploads(bootstrap: str, s3: object, talk: Path, count: int, interval: float) -> list[float]:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-reader"})
    deadline = time.monotonic() + 60
    while "captions.ready" not in consumer.list_topics(timeout=5).topics:
        if time.monotonic() > deadline:
            raise RuntimeError("the service never created its topics")
        time.sleep(0.2)
    partitions = (
        consumer.list_topics("captions.ready", timeout=5).topics["captions.ready"].partitions
    )
    consumer.assign([TopicPartition("captions.ready", p, 0) for p in partitions])
    time.sleep(6.0)  # let the service join its consumer group before the clock starts
    sent: dict[str, float] = {}
    latencies: dict[str, float] = {}
    for i in range(count):
        video_id = f"lat-{i:03d}"
        key = f"videos/{video_id}/talk30.mp4"
        s3.upload_file(str(talk), "bench", key)  # type: ignore[attr-defined]
        event = {"event_id": str(uuid.uuid4()), "video_id": video_id, "source": f"s3://bench/{key}"}
        sent[video_id] = time.monotonic()
        producer.produce("video.uploaded", key=video_id, value=json.dumps(event).encode())
        producer.flush(10)
        end = time.monotonic() + interval
        while time.monotonic() < end:
            drain(consumer, sent, latencies, 0.05)
    deadline = time.monotonic() + 300
    while len(latencies) < count and time.monotonic() < deadline:
        drain(consumer, sent, latencies, 0.5)
    consumer.close()
    return list(latencies.values())


def drain(
    consumer: Consumer, sent: dict[str, float], latencies: dict[str, float], wait: float
) -> None:
    message = consumer.poll(wait)
    if message is None or message.error():
        return
    video_id = json.loads(message.value())["video_id"]
    if video_id in sent and video_id not in latencies:
        latencies[video_id] = time.monotonic() - sent[video_id]


if __name__ == "__main__":
    main()
