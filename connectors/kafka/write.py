"""Producing: the one place that writes to Kafka.

Every producer is idempotent and every message is acknowledged or raises `KafkaDeliveryError`,
so a bundle is retried (or a request answered 503) rather than an event silently lost.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import apache_beam as beam
from confluent_kafka import KafkaError, Message, Producer

from connectors.kafka.config import KafkaConfig, KafkaDeliveryError


def _as_bytes(key: str | bytes | None) -> bytes | None:
    return key.encode("utf-8") if isinstance(key, str) else key


def _produce(
    producer: Producer, topic: str, key: bytes | None, value: bytes, callback: Callable[..., None]
) -> None:
    while True:
        try:
            producer.produce(topic, value=value, key=key, on_delivery=callback)
            return
        except BufferError:  # local queue full: let deliveries drain
            producer.poll(0.5)


_PRODUCERS: dict[tuple[int, tuple[tuple[str, str], ...]], Producer] = {}
_PRODUCERS_LOCK = threading.Lock()


def shared_producer(config: dict[str, Any]) -> Producer:
    """One producer per process and configuration, kept across bundles and pipeline runs.

    The stream service runs a pipeline per micro-batch; a producer of its own per run would
    connect, fetch metadata and get an idempotent producer id each time (about half a second
    of every batch against the test broker)."""
    key = (os.getpid(), tuple(sorted((k, str(v)) for k, v in config.items())))
    with _PRODUCERS_LOCK:
        if key not in _PRODUCERS:
            _PRODUCERS[key] = Producer(config)
        return _PRODUCERS[key]


class _WriteFn(beam.DoFn):
    _on_delivery: Callable[[KafkaError | None, Message], None]  # per bundle, from start_bundle

    def __init__(self, config: KafkaConfig, flush_timeout_s: float) -> None:
        super().__init__()
        self._config = config
        self._flush_timeout_s = flush_timeout_s
        self._delivered = beam.metrics.Metrics.counter("kafka", "delivered")
        self._producer: Producer | None = None
        self._errors: list[str] = []

    def setup(self) -> None:
        self._producer = shared_producer(self._config.producer_config())

    def start_bundle(self) -> None:
        errors: list[str] = []  # a late callback of an old bundle never lands here
        self._errors = errors

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                errors.append(f"{message.topic()}[{message.partition()}]: {error.str()}")
            else:
                self._delivered.inc()

        self._on_delivery = on_delivery

    def process(self, element: tuple[str, str | bytes | None, bytes]) -> None:
        assert self._producer is not None
        topic, key, value = element
        _produce(self._producer, topic, _as_bytes(key), value, self._on_delivery)
        self._producer.poll(0)

    def finish_bundle(self) -> None:
        assert self._producer is not None
        left = self._producer.flush(self._flush_timeout_s)
        problems = []
        if self._errors:
            problems.append(f"{len(self._errors)} message(s) not delivered: {self._errors[0]}")
        if left:
            problems.append(f"{left} message(s) unconfirmed after {self._flush_timeout_s} s")
        if problems:
            raise KafkaDeliveryError("; ".join(problems))

    def teardown(self) -> None:
        # Whatever is still queued belongs to a failed bundle, which is retried anyway.
        if self._producer is not None:
            self._producer.flush(min(self._flush_timeout_s, 5.0))
            self._producer = None


class WriteToKafka(beam.PTransform):
    """PCollection[(topic, key, value)] -> nothing; delivered messages are counted in the
    Beam counter `kafka/delivered`.

    An idempotent producer per worker; each bundle is flushed before it completes and fails
    with `KafkaDeliveryError` if any message was not acknowledged, so it is retried: delivery
    is at least once (a retried bundle may write some messages twice).
    """

    def __init__(self, config: KafkaConfig, flush_timeout_s: float = 60.0) -> None:
        super().__init__()
        self._config = config
        self._flush_timeout_s = flush_timeout_s

    def expand(self, pcoll: beam.PCollection) -> beam.PCollection:
        return pcoll | "Produce" >> beam.ParDo(_WriteFn(self._config, self._flush_timeout_s))


class EventPublisher:
    """A long-lived idempotent producer for a service that publishes one event per request.

    `publish` waits for the broker's acknowledgement and raises `KafkaDeliveryError` when none
    comes within `timeout_s` (librdkafka gives up on the message at the same time, so a
    message reported as failed is not delivered later). Thread-safe; `close` flushes.
    """

    def __init__(self, config: KafkaConfig, timeout_s: float = 10.0) -> None:
        options = dict(config.options)
        timeout_ms = options.get("message.timeout.ms", options.get("delivery.timeout.ms"))
        self.timeout_s = float(timeout_ms) / 1000 if timeout_ms else timeout_s
        self._producer = Producer(
            config.producer_config(**{"message.timeout.ms": int(self.timeout_s * 1000)})
        )

    def publish(self, topic: str, key: str | bytes | None, value: bytes) -> None:
        done = threading.Event()
        errors: list[str] = []

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                errors.append(error.str())
            done.set()

        _produce(self._producer, topic, _as_bytes(key), value, on_delivery)
        deadline = time.monotonic() + self.timeout_s + 5.0
        # Any thread's poll serves every callback, so each waits for its own message only.
        while not done.is_set() and time.monotonic() < deadline:
            self._producer.poll(0.05)
        if errors or not done.is_set():
            reason = errors[0] if errors else f"not acknowledged within {self.timeout_s} s"
            raise KafkaDeliveryError(f"{topic}: {reason}")

    def publish_all(self, topic: str, messages: Iterable[tuple[str | bytes | None, bytes]]) -> None:
        """Publish (key, value) pairs, all in flight at once; `KafkaDeliveryError` unless the
        broker acknowledged every one."""
        errors: list[str] = []

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                errors.append(error.str())

        for key, value in messages:
            _produce(self._producer, topic, _as_bytes(key), value, on_delivery)
            self._producer.poll(0)
        left = self._producer.flush(self.timeout_s + 5.0)
        if errors or left:
            reason = errors[0] if errors else f"{left} not acknowledged within {self.timeout_s} s"
            raise KafkaDeliveryError(f"{topic}: {reason}")

    def close(self, timeout_s: float = 5.0) -> None:
        self._producer.flush(timeout_s)


def produce_once(
    config: KafkaConfig,
    topic: str,
    key: str | bytes | None,
    value: bytes,
    timeout_s: float = 30.0,
) -> None:
    """Produces one message and waits for its acknowledgement; `KafkaDeliveryError` if none."""
    publisher = EventPublisher(config, timeout_s)
    try:
        publisher.publish(topic, key, value)
    finally:
        publisher.close()
