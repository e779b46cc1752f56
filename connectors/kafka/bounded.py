"""The bounded read: exactly the planned offset ranges, for DirectRunner micro-batches.

A splittable DoFn that reads each range in one call and never checkpoints: the local runner in
multi-process mode drops deferred residuals, so a bounded read must finish its range at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Final

import apache_beam as beam
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.transforms.core import RestrictionProvider
from confluent_kafka import Consumer, TopicPartition

from connectors.kafka.config import KafkaConfig, KafkaReadError
from connectors.kafka.records import PartitionRange, is_data, record_of, timestamped


class _BoundedRangeProvider(RestrictionProvider):
    def initial_restriction(self, element: PartitionRange) -> OffsetRange:
        if element.stop is None:
            raise ValueError(f"a bounded read needs a stop offset: {element}")
        return OffsetRange(element.start, element.stop)

    def create_tracker(self, restriction: OffsetRange) -> OffsetRestrictionTracker:
        return OffsetRestrictionTracker(restriction)

    def split(self, element: PartitionRange, restriction: OffsetRange) -> Iterator[OffsetRange]:
        yield restriction  # one call reads the whole range: no residuals to lose

    def restriction_size(self, element: PartitionRange, restriction: OffsetRange) -> int:
        return int(restriction.size())


_BOUNDED_RESTRICTION: Final = beam.DoFn.RestrictionParam(_BoundedRangeProvider())


class _ReadRangeFn(beam.DoFn):
    """Reads one planned range in ONE process call and never checkpoints.

    Deferred residuals are dropped by the local runner in multi-process mode, so the whole range
    is claimed here; offsets missing from the log (compaction, transaction markers) are claimed
    implicitly by claiming the next offset that exists, or the stop once the consumer's position
    has passed it.
    """

    def __init__(self, config: KafkaConfig, fetch_timeout_s: float) -> None:
        super().__init__()
        self._config = config
        self._fetch_timeout_s = fetch_timeout_s

    def process(
        self,
        element: PartitionRange,
        tracker: Any = _BOUNDED_RESTRICTION,
    ) -> Iterator[Any]:
        restriction = tracker.current_restriction()
        start, stop = int(restriction.start), int(restriction.stop)
        if start >= stop:
            return
        consumer = Consumer(self._config.consumer_config(**{"auto.offset.reset": "earliest"}))
        try:
            partition = TopicPartition(element.topic, element.partition, start)
            consumer.assign([partition])
            last_progress = time.monotonic()
            while True:
                message = consumer.poll(0.5)
                if message is None or not is_data(message):
                    # The range may end in offsets with no message (transaction markers): the
                    # position moves past them all the same.
                    if consumer.position([partition])[0].offset >= stop:
                        tracker.try_claim(stop)  # claims nothing: marks the range done
                        return
                    if time.monotonic() - last_progress > self._fetch_timeout_s:
                        raise KafkaReadError(
                            f"{element.topic}[{element.partition}]: no offset in "
                            f"[{start}, {stop}) after {self._fetch_timeout_s} s; "
                            f"the range was planned from real offsets, so it must exist"
                        )
                    continue
                offset = int(message.offset() or 0)
                if offset < start:
                    continue  # the rest of a batch that began before the range
                last_progress = time.monotonic()
                if not tracker.try_claim(offset):
                    # offset >= stop: the range is done, its gaps claimed with it. (A comment
                    # after this return would make Beam warn about yield-and-return.)
                    return
                yield timestamped(record_of(message))
                if offset >= stop - 1:
                    return
        finally:
            consumer.close()
