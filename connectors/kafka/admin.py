"""Topic administration: which partitions a topic has, and creating missing topics."""

from __future__ import annotations

import logging
from collections.abc import Sequence

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
