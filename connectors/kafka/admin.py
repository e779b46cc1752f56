"""Topic administration: which partitions a topic has, missing topics created or waited for."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from connectors.kafka.config import KafkaConfig

log = logging.getLogger(__name__)


def partitions_of(config: KafkaConfig, topics: Sequence[str]) -> list[tuple[str, int]]:
    """(topic, partition) for every partition of `topics`, from broker metadata."""
    consumer = Consumer(config.consumer_config())
    try:
        found: list[tuple[str, int]] = []
        for topic in topics:
            metadata = consumer.list_topics(topic, timeout=30).topics[topic]
            if metadata.error is not None:
                raise KafkaException(metadata.error)
            found.extend((topic, p) for p in sorted(metadata.partitions))
        return found
    finally:
        consumer.close()


def ensure_topics(config: KafkaConfig, topics: Sequence[str], partitions: int = 3) -> None:
    """Creates the topics that do not exist yet (replication: the broker's default)."""
    admin = AdminClient(config.admin_config())
    futures = admin.create_topics(
        [NewTopic(t, num_partitions=partitions, replication_factor=-1) for t in topics],
        operation_timeout=30,
    )
    for topic, future in futures.items():
        try:
            future.result(timeout=60)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
            log.debug("topic %s exists", topic)


def missing_topics(config: KafkaConfig, topics: Sequence[str]) -> list[str]:
    """Those of `topics` the brokers do not know (yet); raises `KafkaException` when no broker
    answers."""
    admin = AdminClient(config.admin_config())
    known = admin.list_topics(timeout=10).topics
    return [t for t in topics if t not in known or known[t].error is not None]


def wait_for_topics(
    config: KafkaConfig,
    topics: Sequence[str],
    *,
    stop: Callable[[], bool] = lambda: False,
    log_every_s: float = 30.0,
    max_pause_s: float = 15.0,
) -> bool:
    """Return once every topic exists (True), or when `stop()` says so (False).

    A service started before its topics were made (or while the brokers are still coming up)
    says what it waits for, once and then every `log_every_s`, and asks again with a back-off
    from 1 s up to `max_pause_s`, instead of failing."""
    pause, said = 1.0, -math.inf
    while not stop():
        try:
            missing = missing_topics(config, topics)
        except KafkaException as error:
            missing, reason = list(topics), f"no broker answers ({error})"
        else:
            reason = "they do not exist yet"
        if not missing:
            return True
        if time.monotonic() - said >= log_every_s:
            log.warning(
                "waiting for topics %s: %s (create them, or start with --create-topics)",
                ", ".join(missing),
                reason,
                extra={"event": "topics_missing", "topics": missing},
            )
            said = time.monotonic()
        deadline = time.monotonic() + pause
        while time.monotonic() < deadline and not stop():
            time.sleep(0.1)
        pause = min(max_pause_s, pause * 2)
    return False
