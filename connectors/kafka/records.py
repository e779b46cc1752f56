"""Kafka records as the read transforms hand them on, and the offset ranges they read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp
from confluent_kafka import KafkaError, KafkaException, Message


@dataclass(frozen=True)
class KafkaRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None


@dataclass(frozen=True)
class PartitionRange:
    """Offsets [start, stop) of one partition; `stop=None` means unbounded."""

    topic: str
    partition: int
    start: int
    stop: int | None

    def __post_init__(self) -> None:
        if self.start < 0 or (self.stop is not None and self.stop < self.start):
            raise ValueError(f"bad offset range: {self}")


def record_of(message: Message) -> KafkaRecord:
    kind, timestamp = message.timestamp()
    return KafkaRecord(
        topic=str(message.topic()),
        partition=int(message.partition() or 0),
        offset=int(message.offset() or 0),
        key=message.key(),
        value=message.value(),
        timestamp_ms=None if kind == 0 else int(timestamp),  # 0: TIMESTAMP_NOT_AVAILABLE
    )


def timestamped(record: KafkaRecord) -> Any:
    if record.timestamp_ms is None:
        return record
    return TimestampedValue(record, Timestamp(micros=record.timestamp_ms * 1000))


def is_data(message: Message) -> bool:
    """True for a data message; False for an ignorable event; raises on a real error."""
    error = message.error()
    if error is None:
        return True
    if error.code() == KafkaError._PARTITION_EOF or error.retriable():
        return False
    raise KafkaException(error)
