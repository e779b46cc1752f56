"""`autocaption notify`: the answer topics in, signed webhooks out (`connectors.webhooks`).

One Kafka consumer in its own group reads `captions.ready`, `captions.failed`,
`captions.updated` and `video.deleted`, and POSTs each event to every configured endpoint:

- **In order per video.** Events are queued by their key (the video id); one worker at a time
  delivers a video's queue, so a video's events arrive in the order they were read, while
  other videos go on beside it (`workers` at once).
- **Retried for more than a day.** A refused, failed (not 2xx) or timed out POST is tried again
  after 1 s, 2 s, 4 s ... (at most `max_retry_s` apart, with jitter) until `give_up_after_s`
  (36 h by default) has passed; then the event goes to the dead-letter topic with why, and the
  video's next event follows.
- **Nothing lost.** A partition's offset is committed only up to its first event not yet
  delivered (or dead-lettered), so a stop or a crash delivers again from there: at least once,
  with the same `webhook-id`, which receivers use to drop a repeat.

A message that is not a JSON object (no event) goes to the dead-letter topic at once; nothing a
message holds stops the service, and nothing it names is fetched.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from connectors.kafka.config import KafkaConfig, Topics
from connectors.kafka.write import EventPublisher
from connectors.webhooks import Endpoint, Poster, parse_secret

log = logging.getLogger("autocaption.notify")

DAY_AND_A_HALF_S = 36 * 3600


@dataclass(frozen=True)
class NotifySettings:
    kafka: KafkaConfig
    endpoints: tuple[Endpoint, ...]
    topics: Topics = field(default_factory=Topics)
    dead_letter_topic: str = "webhooks.dead"
    give_up_after_s: float = DAY_AND_A_HALF_S
    first_retry_s: float = 1.0
    max_retry_s: float = 3600.0
    workers: int = 32
    max_in_flight: int = 10_000  # events read but not delivered; reading pauses beyond
    timeout_s: float = 10.0

    @property
    def event_types(self) -> dict[str, str]:
        """Topic -> the event type a webhook names."""
        t = self.topics
        return {
            t.ready: "captions.ready",
            t.failed: "captions.failed",
            t.updated: "captions.updated",
            t.deleted: "video.deleted",
        }


@dataclass
class _Delivery:
    topic: str
    partition: int
    offset: int
    video: str
    value: bytes


@dataclass
class Counts:
    delivered: int = 0
    retried: int = 0
    dead_lettered: int = 0


class Notifier:
    """The service; `run` until `stop` is set (SIGTERM), then deliveries in hand end, what was
    delivered is committed, and the consumer leaves its group."""

    def __init__(self, settings: NotifySettings) -> None:
        if not settings.endpoints:
            raise ValueError("no webhook endpoint is configured")
        self.settings = settings
        self.stop = threading.Event()
        self.counts = Counts()
        self._poster = Poster(settings.timeout_s)
        self._lock = threading.Lock()
        self._queues: dict[str, deque[_Delivery]] = {}
        self._active: set[str] = set()
        self._pending: dict[tuple[str, int], set[int]] = {}
        self._read_to: dict[tuple[str, int], int] = {}
        self._committed: dict[tuple[str, int], int] = {}
        self._revoked: set[tuple[str, int]] = set()
        self._in_flight = 0
        self._dead_letters: EventPublisher | None = None

    # --- the consumer loop (one thread) -------------------------------------------------------

    def run(self) -> None:
        settings = self.settings
        consumer = Consumer(settings.kafka.consumer_config(**{"auto.offset.reset": "earliest"}))
        self._dead_letters = EventPublisher(settings.kafka)
        workers = ThreadPoolExecutor(settings.workers, thread_name_prefix="webhook")
        topics = list(settings.event_types)
        consumer.subscribe(
            topics,
            on_assign=lambda c, parts: self._assigned(parts),
            on_revoke=lambda c, parts: self._revoked_from(c, parts),
        )
        log.info(
            "notify: %s -> %d endpoint(s) (%s)",
            ", ".join(topics),
            len(settings.endpoints),
            ", ".join(e.url for e in settings.endpoints),
        )
        paused = False
        last_commit = 0.0
        try:
            while not self.stop.is_set():
                full = self._in_flight >= settings.max_in_flight
                if full != paused:
                    assignment = consumer.assignment()
                    (consumer.pause if full else consumer.resume)(assignment)
                    paused = full
                message = consumer.poll(0.2)
                if message is not None:
                    self._take(message, workers)
                if time.monotonic() - last_commit >= 1.0:
                    self._commit(consumer)
                    last_commit = time.monotonic()
        finally:
            workers.shutdown(wait=True)  # retries end at once (stop is set); a POST finishes
            self._commit(consumer)
            consumer.close()
            self._dead_letters.close()
            log.info(
                "notify: stopped (%d delivered, %d retries, %d dead-lettered)",
                self.counts.delivered,
                self.counts.retried,
                self.counts.dead_lettered,
            )

    def _take(self, message: Message, workers: ThreadPoolExecutor) -> None:
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("notify: %s", error)
            return
        topic, partition, offset = message.topic() or "", message.partition(), message.offset()
        if partition is None or offset is None:
            return
        raw_key = message.key()
        video = raw_key.decode("utf-8", "replace") if raw_key else f"{topic}/{partition}"
        delivery = _Delivery(topic, partition, offset, video, message.value() or b"")
        with self._lock:
            where = (topic, partition)
            self._revoked.discard(where)
            self._pending.setdefault(where, set()).add(offset)
            self._read_to[where] = offset + 1
            self._in_flight += 1
            self._queues.setdefault(video, deque()).append(delivery)
            start = video not in self._active
            self._active.add(video)
        if start:
            workers.submit(self._drain, video)

    def _assigned(self, partitions: list[TopicPartition]) -> None:
        with self._lock:
            for p in partitions:
                self._revoked.discard((p.topic, p.partition))

    def _revoked_from(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Another member takes these partitions: commit what was delivered, and drop what
        was read and not delivered (the new owner reads it again)."""
        self._commit(consumer)
        with self._lock:
            for p in partitions:
                where = (p.topic, p.partition)
                self._revoked.add(where)
                self._pending.pop(where, None)
                self._read_to.pop(where, None)
                self._committed.pop(where, None)

    def _commit(self, consumer: Consumer) -> None:
        """Each partition's offset, up to its first event not yet delivered."""
        offsets = []
        with self._lock:
            for where, read_to in self._read_to.items():
                pending = self._pending.get(where)
                upto = min(pending) if pending else read_to
                if self._committed.get(where) != upto:
                    offsets.append(TopicPartition(where[0], where[1], upto))
        if not offsets:
            return
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except Exception as exc:  # a rebalance or a broker away: committed next time
            log.warning("notify: commit failed (%s); will try again", exc)
            return
        with self._lock:
            for tp in offsets:
                self._committed[(tp.topic, tp.partition)] = tp.offset

    # --- the workers: one video's queue at a time ---------------------------------------------

    def _drain(self, video: str) -> None:
        while True:
            with self._lock:
                queue = self._queues.get(video)
                if not queue:
                    self._queues.pop(video, None)
                    self._active.discard(video)
                    return
                delivery = queue.popleft()
                dropped = (delivery.topic, delivery.partition) in self._revoked
            done = dropped or self._deliver(delivery)
            with self._lock:
                self._in_flight -= 1
                if done and not dropped:
                    pending = self._pending.get((delivery.topic, delivery.partition))
                    if pending is not None:
                        pending.discard(delivery.offset)
            if not done:  # stopping: what is left of this video is delivered after a restart
                with self._lock:
                    left = self._queues.pop(video, deque())
                    self._in_flight -= len(left)
                    self._active.discard(video)
                return

    def _deliver(self, delivery: _Delivery) -> bool:
        """Whether the event is delivered to every endpoint (or dead-lettered); False when
        the service stops first."""
        event_type = self.settings.event_types.get(delivery.topic, delivery.topic)
        try:
            event = json.loads(delivery.value)
            if not isinstance(event, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            return self._dead_letter(delivery, None, f"not an event: {exc}", 0, event_type)
        message_id = str(event.get("event_id") or _fallback_id(delivery))
        body = json.dumps(
            {
                "type": event_type,
                "timestamp": event.get("occurred_at")
                or event.get("completed_at")
                or event.get("failed_at"),
                "data": event,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")
        for endpoint in self.settings.endpoints:
            if not self._post_until_done(delivery, endpoint, message_id, body, event_type):
                return False
        return True

    def _post_until_done(
        self,
        delivery: _Delivery,
        endpoint: Endpoint,
        message_id: str,
        body: bytes,
        event_type: str,
    ) -> bool:
        settings = self.settings
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                status = self._poster.post(endpoint, body, message_id)
                if 200 <= status < 300:
                    with self._lock:
                        self.counts.delivered += 1
                    return True
                why = f"HTTP {status}"
            except OSError as exc:
                why = str(exc)
            waited = time.monotonic() - started
            if waited >= settings.give_up_after_s:
                return self._dead_letter(delivery, endpoint, why, attempt, event_type)
            pause = min(settings.first_retry_s * 2 ** (attempt - 1), settings.max_retry_s)
            pause = min(pause * random.uniform(0.8, 1.2), settings.give_up_after_s - waited)
            with self._lock:
                self.counts.retried += 1
            log.info(
                "notify: %s %s to %s: %s; again in %.1f s (attempt %d)",
                event_type,
                message_id,
                endpoint.url,
                why,
                pause,
                attempt,
            )
            if self.stop.wait(max(pause, 0.0)):
                return False

    def _dead_letter(
        self,
        delivery: _Delivery,
        endpoint: Endpoint | None,
        why: str,
        attempts: int,
        event_type: str,
    ) -> bool:
        """Put the event on the dead-letter topic with why (acknowledged, retried while the
        broker is away); False when the service stops first."""
        try:
            event: Any = json.loads(delivery.value)
        except ValueError:
            event = delivery.value.decode("utf-8", "replace")
        record = {
            "type": event_type,
            "endpoint": endpoint.url if endpoint else None,
            "error": why[:1000],
            "attempts": attempts,
            "topic": delivery.topic,
            "partition": delivery.partition,
            "offset": delivery.offset,
            "event": event,
        }
        value = json.dumps(record, ensure_ascii=False).encode("utf-8")
        assert self._dead_letters is not None
        while True:
            try:
                self._dead_letters.publish(self.settings.dead_letter_topic, delivery.video, value)
                break
            except Exception as exc:
                log.error("notify: dead letter not written (%s); trying again", exc)
                if self.stop.wait(5.0):
                    return False
        log.error(
            "notify: gave up on %s of %s (%s); it is on %s",
            event_type,
            delivery.video,
            why,
            self.settings.dead_letter_topic,
        )
        with self._lock:
            self.counts.dead_lettered += 1
        return True


def _fallback_id(delivery: _Delivery) -> str:
    return f"{delivery.topic}-{delivery.partition}-{delivery.offset}"


def read_endpoints(
    urls: Sequence[str], secret: str | None, file_text: str | None
) -> list[Endpoint]:
    """The endpoints of `--url` (with `--secret`) and of an endpoints file: a JSON list of
    `{"url": ..., "secret": ...}`. `ValueError` says what is wrong."""
    endpoints = []
    if urls:
        if not secret:
            raise ValueError("--url needs --secret (or AUTOCAPTION_WEBHOOK_SECRET)")
        key = parse_secret(secret)
        endpoints += [Endpoint(url, key) for url in urls]
    if file_text is not None:
        entries = json.loads(file_text)
        if not isinstance(entries, list):
            raise ValueError('the endpoints file is a JSON list of {"url": ..., "secret": ...}')
        for entry in entries:
            if not isinstance(entry, dict) or "url" not in entry or "secret" not in entry:
                raise ValueError('each endpoint is {"url": ..., "secret": ...}')
            endpoints.append(Endpoint(str(entry["url"]), parse_secret(str(entry["secret"]))))
    if not endpoints:
        raise ValueError("give at least one endpoint (--url or --endpoints)")
    return endpoints
