"""`BatchPlanner`: which offsets the next DirectRunner micro-batch reads, and their commit."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from connectors.kafka.config import KafkaConfig
from connectors.kafka.records import PartitionRange

log = logging.getLogger(__name__)

PLANNER_DEFAULTS: Final[Mapping[str, Any]] = {
    "session.timeout.ms": 10000,
    "heartbeat.interval.ms": 1000,
    # A micro-batch runs a whole pipeline between two polls.
    "max.poll.interval.ms": 1800000,
}


class BatchPlanner:
    """Plans bounded micro-batches for DirectRunner as a member of the consumer group.

    `plan` peeks at what is available (payloads discarded) and returns one range per partition,
    from the planner's next start (the group's committed offset, or where `rewind` put it) to
    the last offset seen + 1. Run the batch with `ReadFromKafka(config, ranges)`, then `commit`
    (success) or `rewind` (failure). A new planner in the same group starts from the committed
    offsets, so work not committed before a crash is planned again. Ranges planned but neither
    committed nor rewound are planned again, extended, by the next `plan`.
    """

    def __init__(self, config: KafkaConfig, topics: Sequence[str]) -> None:
        settings = config.consumer_config(
            **{"enable.auto.commit": False, "auto.offset.reset": "earliest"}
        )
        options = dict(config.options)
        for key, value in PLANNER_DEFAULTS.items():
            if key not in options:
                settings[key] = value
        self._consumer = Consumer(settings)
        self._start: dict[tuple[str, int], int] = {}  # next planned start per owned partition
        self._seen: dict[tuple[str, int], int] = {}  # last offset peeked + 1
        self._times: dict[tuple[str, int], dict[int, float]] = {}  # offset -> event unix time
        self._said_at: dict[int, float] = {}  # error code -> when it was last logged
        self._joined = False
        self._consumer.subscribe(
            list(topics),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Fetching resumes from the group's committed offsets: the first offset peeked for a
        # partition is where its next range starts.
        self._joined = True
        log.info("assigned %s", [(tp.topic, tp.partition) for tp in partitions])

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._start.pop((tp.topic, tp.partition), None)
            self._seen.pop((tp.topic, tp.partition), None)
            self._times.pop((tp.topic, tp.partition), None)
        log.info("revoked %s", [(tp.topic, tp.partition) for tp in partitions])

    def wait_for_assignment(self, timeout_s: float = 30.0) -> bool:
        """Polls until the group has been joined (True) or `timeout_s` passed; moves nothing."""
        deadline = time.monotonic() + timeout_s
        while not self._joined and time.monotonic() < deadline:
            message = self._consumer.poll(0.1)
            if message is not None and self._is_data(message):
                # Peeked before being asked to plan: put the position back.
                self._consumer.seek(
                    TopicPartition(
                        str(message.topic()),
                        int(message.partition() or 0),
                        int(message.offset() or 0),
                    )
                )
        return self._joined

    def plan(self, max_records: int = 100, max_wait_s: float = 2.0) -> list[PartitionRange]:
        """Ranges of at most `max_records` new records; [] when nothing is new.

        Waits at most `max_wait_s` after the first record arrives, or `max_wait_s` in all when
        none does.
        """
        deadline = time.monotonic() + max_wait_s
        got_first = False
        peeked = 0
        while peeked < max_records:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            messages = self._consumer.consume(max_records - peeked, timeout=min(remaining, 0.5))
            for message in messages:
                if not self._is_data(message):
                    continue
                key = (str(message.topic()), int(message.partition() or 0))
                offset = int(message.offset() or 0)
                self._start.setdefault(key, offset)
                if offset < self._seen.get(key, -1):
                    continue
                self._seen[key] = offset + 1
                kind, stamp_ms = message.timestamp()
                if kind != 0:  # 0: the message has no timestamp
                    self._times.setdefault(key, {})[offset] = stamp_ms / 1000
                peeked += 1
                if not got_first:
                    got_first = True
                    deadline = time.monotonic() + max_wait_s
        return [
            PartitionRange(topic, partition, self._start[(topic, partition)], seen)
            for (topic, partition), seen in sorted(self._seen.items())
            if seen > self._start.get((topic, partition), seen)
        ]

    def _is_data(self, message: Message) -> bool:
        """True for a data message. A broker that is away, restarting or has lost a topic is
        logged and waited out (librdkafka reconnects by itself); only a fatal error raises."""
        error = message.error()
        if error is None:
            return True
        if error.fatal():
            raise KafkaException(error)
        if error.code() != KafkaError._PARTITION_EOF and not error.retriable():
            now = time.monotonic()
            if now - self._said_at.get(error.code(), -math.inf) >= 30.0:
                log.warning(
                    "reading %s: %s; waiting for the broker",
                    message.topic() or "the uploads topic",
                    error.str(),
                    extra={"event": "kafka_unavailable", "code": error.name()},
                )
                self._said_at[error.code()] = now
        return False

    def commit(self, ranges: Sequence[PartitionRange]) -> list[tuple[str, int]]:
        """Commits each range's stop synchronously; returns the partitions committed.

        Partitions revoked since planning (a rebalance) are logged and skipped, not raised:
        their new owner re-reads from the last commit.
        """
        owned = {(tp.topic, tp.partition) for tp in self._consumer.assignment()}
        offsets = []
        for r in ranges:
            if r.stop is None:
                raise ValueError(f"cannot commit an unbounded range: {r}")
            if (r.topic, r.partition) in owned:
                offsets.append(TopicPartition(r.topic, r.partition, r.stop))
            else:
                log.warning("not committing %s[%d]: no longer assigned", r.topic, r.partition)
        if not offsets:
            return []
        try:
            results = self._consumer.commit(offsets=offsets, asynchronous=False) or []
        except KafkaException as error:
            log.warning("commit failed (rebalance?): %s", error)
            return []
        done = []
        for tp in results:
            if tp.error is not None:
                log.warning("commit of %s[%d] failed: %s", tp.topic, tp.partition, tp.error)
                continue
            key = (tp.topic, tp.partition)
            done.append(key)
            if key in self._start:
                self._start[key] = max(self._start[key], int(tp.offset))
            times = self._times.get(key, {})
            for offset in [o for o in times if o < int(tp.offset)]:
                del times[offset]
        return done

    def event_times(self, ranges: Sequence[PartitionRange]) -> list[float]:
        """The unix times (s) of the records in `ranges` that carry a timestamp (the producer's
        or the broker's): when each upload was announced."""
        out = []
        for r in ranges:
            times = self._times.get((r.topic, r.partition), {})
            out += [t for o, t in times.items() if r.start <= o < (r.stop or r.start)]
        return out

    def rewind(self, ranges: Sequence[PartitionRange]) -> None:
        """After a failed batch: the next `plan` starts at these ranges again."""
        for r in ranges:
            key = (r.topic, r.partition)
            if key not in self._start:
                continue  # revoked meanwhile: the new owner starts from the committed offset
            try:
                self._consumer.seek(TopicPartition(r.topic, r.partition, r.start))
            except KafkaException as error:
                log.warning("cannot rewind %s[%d]: %s", r.topic, r.partition, error)
                continue
            self._start[key] = r.start
            self._seen[key] = r.start

    def close(self) -> None:
        """Leaves the group without committing anything."""
        self._consumer.close()
