"""The library at scale: a page of a library of 10,000 videos through the gateway, on the S3
test server and on a local folder, at the first page and at the last; a delete; and webhook
deliveries a second from `autocaption notify` to one receiver.

    .venv/bin/python -m benchmarks.run --only library

The videos are written straight into storage (a record, an index entry and a ready manifest
each, as the gateway and the stream service write them), so what is measured is the gateway's
listing, not 10,000 transcriptions. The gateway and the notifier run as `autocaption serve` and
`autocaption notify`, over real sockets, against a real broker.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
from confluent_kafka import Producer

from benchmarks.measure import AUTOCAPTION, REPO, Row, Section, log, percentile, shown
from connectors.kafka.admin import ensure_topics
from connectors.kafka.config import KafkaConfig
from connectors.storage import open_store
from connectors.storage.layout import caption_key, manifest_key, revision_key, upload_key
from connectors.storage.store import ObjectStore
from connectors.webhooks import parse_secret
from devtools.services import free_port, kafka_broker, s3_server
from devtools.webhook_receiver import Receiver
from library.catalog import VideoRecord, register
from schemas.events import TrackRef
from schemas.manifest import Manifest

KEY = "bench-key"
BUCKET = "library-bench"
PAGE_TARGET_MS = 200.0
WEBHOOK_TARGET = 200.0
SECRET = "whsec_" + "YmVuY2gtc2VjcmV0LW9mLWF0LWxlYXN0LTI0LWJ5dGVz"


def run(work: Path, videos: int = 10_000, deletes: int = 20, events: int = 5_000) -> Section:
    section = Section("library")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    with kafka_broker() as bootstrap, s3_server() as endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
        saved = dict(os.environ)
        os.environ.update(env)  # this process writes the library into the same S3 server
        try:
            import boto3

            boto3.client("s3").create_bucket(Bucket=BUCKET)
            folder = work / "library-folder"
            shutil.rmtree(folder, ignore_errors=True)
            for storage in (f"s3://{BUCKET}", str(folder)):
                pages_and_deletes(bootstrap, storage, env, videos, deletes, section)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        webhooks(bootstrap, work, events, section)
    return section


def fill(store: ObjectStore, videos: int) -> float:
    """`videos` ready videos in the library, a second apart; seconds it took."""
    started = time.monotonic()
    base_ms = 1_790_000_000_000

    def one(i: int) -> None:
        video_id = f"lib-{i:06d}"
        ms = base_ms + i * 1000
        at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".000Z"
        register(store, VideoRecord(video_id, f"clip-{i:06d}.mp4", at))
        key = caption_key(video_id, "en.vtt")
        track = TrackRef("en", "captions", "vtt", store.uri(key), key)
        manifest = Manifest.ready(
            video_id,
            store.uri(upload_key(video_id, f"clip-{i:06d}.mp4")),
            duration_s=30.0,
            language="en",
            tracks=(track,),
            model="whisper-base",
            cues=10,
        )
        store.put_bytes(manifest_key(video_id), manifest.to_json().encode())

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(one, range(videos)))
    return time.monotonic() - started


@contextmanager
def gateway(bootstrap: str, storage: str, env: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    port = free_port()
    command = [
        AUTOCAPTION, "serve", "--storage", storage, "--bootstrap-servers", bootstrap,
        "--host", "127.0.0.1", "--port", str(port), "--api-key", KEY, "--create-topics",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the gateway did not start") from None
                time.sleep(0.2)
        yield url, command
    finally:
        process.terminate()
        process.wait(timeout=60)


def pages_and_deletes(
    bootstrap: str,
    storage: str,
    env: dict[str, str],
    videos: int,
    deletes: int,
    section: Section,
) -> None:
    store = open_store(storage)
    where = "the S3 test server (moto)" if storage.startswith("s3://") else "a local folder"
    fill_s = fill(store, videos)
    log(f"library: {videos} videos written to {where} in {fill_s:.0f} s")
    headers = {"Authorization": f"Bearer {KEY}"}
    with (
        gateway(bootstrap, storage, env) as (url, command),
        httpx.Client(base_url=url, headers=headers, timeout=60) as client,
    ):
        client.get("/v1/videos", params={"limit": 20})  # warm: connections, first imports
        times: list[float] = []
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 20, **({"cursor": cursor} if cursor else {})}
            started = time.perf_counter()
            answer = client.get("/v1/videos", params=params)
            times.append((time.perf_counter() - started) * 1000)
            body = answer.json()
            seen += [v["video_id"] for v in body["videos"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
        complete = seen == [f"lib-{i:06d}" for i in reversed(range(videos))]
        first, last = times[:50], times[-50:]
        p95 = percentile(times, 0.95)
        search_ms = timed(client, {"limit": 20, "q": "clip-000123"})
        status_ms = timed(client, {"limit": 20, "status": "ready"})
        delete_ms = delete_times(client, store, deletes)
    log(f"library ({where}): p95 {p95:.0f} ms over {len(times)} pages; delete p50 "
        f"{percentile(delete_ms, 0.5):.0f} ms")  # fmt: skip
    section.commands.append(shown(command))
    section.rows += [
        Row(
            "library",
            f"a page of 20 of {videos:,} videos, p50 / p95, storage: {where}",
            f"{percentile(times, 0.5):.0f} / {p95:.0f} ms (first 50 pages p95 "
            f"{percentile(first, 0.95):.0f} ms, last 50 {percentile(last, 0.95):.0f} ms)",
            f"< {PAGE_TARGET_MS:.0f} ms p95, flat",
            p95 < PAGE_TARGET_MS and complete,
        ),
        Row(
            "library",
            f"delete a video (upload, 3 formats x 2 languages, revisions), p50, {where}",
            f"{percentile(delete_ms, 0.5):.0f} ms (max {max(delete_ms):.0f}, n={len(delete_ms)})",
        ),
    ]
    section.details += [
        f"Storage {where}: {videos:,} ready videos written straight into storage in "
        f"{fill_s:.0f} s (a record, an index entry and a manifest each), then every page of "
        f"`GET /v1/videos?limit=20` walked by its cursor: {len(times)} pages, each video once "
        f"and newest first: {'yes' if complete else 'NO'}. Per page: p50 "
        f"{percentile(times, 0.5):.0f} ms, p95 {p95:.0f} ms; the first 50 pages p95 "
        f"{percentile(first, 0.95):.0f} ms, the last 50 p95 {percentile(last, 0.95):.0f} ms. "
        f"A search by name (`q=clip-000123`, one match, {videos:,} index keys scanned): "
        f"{search_ms:.0f} ms; `status=ready`: {status_ms:.0f} ms. A delete of a video with its "
        f"upload (1 MB), 3 formats in 2 languages, 2 kept revisions each, a transcript and a "
        f"manifest, through `DELETE /v1/videos/{{id}}` (tombstone, purge, `video.deleted` "
        f"acknowledged by the broker): p50 {percentile(delete_ms, 0.5):.0f} ms, max "
        f"{max(delete_ms):.0f} ms over {len(delete_ms)}.",
        "",
    ]


def timed(client: httpx.Client, params: dict[str, object]) -> float:
    started = time.perf_counter()
    assert client.get("/v1/videos", params=params).status_code == 200  # type: ignore[arg-type]
    return (time.perf_counter() - started) * 1000


def delete_times(client: httpx.Client, store: ObjectStore, count: int) -> list[float]:
    times = []
    for i in range(count):
        video_id = f"del-{i:03d}"
        register(store, VideoRecord(video_id, "talk.mp4", f"2026-12-07T00:00:{i:02d}.000Z"))
        store.put_bytes(upload_key(video_id, "talk.mp4"), os.urandom(1_000_000))
        for lang in ("en", "pt-BR"):
            for fmt in ("vtt", "srt", "ttml"):
                store.put_bytes(caption_key(video_id, f"{lang}.{fmt}"), b"WEBVTT\n")
            for revision in (1, 2):
                store.put_bytes(revision_key(video_id, lang, revision), b"WEBVTT\n")
        store.put_bytes(caption_key(video_id, "transcript.json"), b"{}")
        store.put_bytes(manifest_key(video_id), b"{}")
        started = time.perf_counter()
        answer = client.delete(f"/v1/videos/{video_id}")
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 204, answer.text
    return times


def webhooks(bootstrap: str, work: Path, events: int, section: Section) -> None:
    """`events` events of 100 videos on captions.updated, delivered to one receiver."""
    prefix = f"wh{uuid.uuid4().hex[:6]}."
    topics = {k: prefix + k for k in ("ready", "failed", "updated", "deleted", "dead")}
    ensure_topics(KafkaConfig(bootstrap), list(topics.values()))
    # Idempotent: a plain producer may reorder a partition's messages when it retries (a
    # topic just created has no leader yet), and the order is what this measures.
    producer = Producer(KafkaConfig(bootstrap).producer_config(**{"linger.ms": 5}))
    for n in range(events):
        video = f"v{n % 100:03d}"
        event = {"event_id": str(uuid.uuid4()), "video_id": video, "seq": n // 100}
        producer.produce(topics["updated"], key=video, value=json.dumps(event).encode())
        producer.poll(0)
    producer.flush(30)
    receiver = Receiver(parse_secret(SECRET))
    receiver.start()
    command = [
        AUTOCAPTION, "notify", "--bootstrap-servers", bootstrap, "--group-id", prefix + "notify",
        "--ready-topic", topics["ready"], "--failed-topic", topics["failed"],
        "--updated-topic", topics["updated"], "--deleted-topic", topics["deleted"],
        "--dead-letter-topic", topics["dead"], "--url", receiver.url, "--secret", SECRET,
    ]  # fmt: skip
    with open(work / "notify.log", "wb") as log_file:
        process = subprocess.Popen(command, cwd=REPO, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 300
            while receiver.count() < events and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            process.terminate()
            process.wait(timeout=60)
            receiver.stop()
    got = receiver.received.events
    times = receiver.received.times
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    in_order = all(
        [e["data"]["seq"] for e in got if e["data"]["video_id"] == f"v{v:03d}"]
        == list(range(events // 100))
        for v in range(100)
    )
    log(f"webhooks: {rate:.0f} deliveries/s, {len(got)} of {events}, in order: {in_order}")
    section.commands.append(shown(command))
    section.rows.append(
        Row(
            "webhooks",
            "signed deliveries a second to one receiver (32 workers, keep-alive)",
            f"{rate:.0f} /s ({len(got)} of {events}, in order per video: "
            f"{'yes' if in_order else 'NO'})",
            f">= {WEBHOOK_TARGET:.0f} /s, in order",
            rate >= WEBHOOK_TARGET and in_order and len(got) == events,
        )
    )
    section.details += [
        f"Webhooks: {events:,} `captions.updated` events of 100 videos (50 each) on a "
        "3-partition topic, then `autocaption notify` started against one receiver on "
        "this machine (`devtools/webhook_receiver.py`: Python's threading HTTP server, which "
        "verifies every signature); rate = deliveries between the first and the last "
        f"accepted: {rate:.0f} /s; {receiver.received.repeats} repeats, "
        f"{receiver.received.forged} bad signatures; each video's events arrived in order: "
        f"{'yes' if in_order else 'NO'}.",
        "",
    ]
