"""Everything that talks Kafka: read and write transforms, the micro-batch planner, topic admin.

Two ways to read (DESIGN.md, "Runners"):

- Bounded, for DirectRunner micro-batches: `BatchPlanner` discovers which offsets are available
  (as a consumer-group member), `ReadFromKafka(config, ranges)` reads exactly those ranges, and
  `BatchPlanner.commit` commits them once the batch has succeeded. High watermarks never bound a
  read: some brokers (Tansu) report them wrong for multi-record batches.
- Unbounded, for Flink and other streaming runners: `ReadFromKafka(config, topics=...,
  unbounded=True)` reads every partition from the group's committed offsets onwards and commits
  offsets when the runner finalizes a bundle.

`WriteToKafka` and `produce_once` use an idempotent producer and raise `KafkaDeliveryError` when
a message is not acknowledged, so a bundle is retried rather than an event silently lost.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import apache_beam as beam
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Duration, Timestamp
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

_LOG = logging.getLogger(__name__)
# librdkafka's own log lines (connection refused at shutdown, ...) go through Python logging.
_RDKAFKA_LOG = logging.getLogger(f"{__name__}.librdkafka")

# Stop of an unbounded restriction: Kafka offsets are signed 64-bit.
UNBOUNDED_STOP: Final = 2**63 - 1

# A pooled reader unused this long belongs to a partition now read elsewhere.
READER_IDLE_CLOSE_S: Final = 300.0

# How far behind the wall clock the watermark of a caught-up partition is put: a message
# timestamped (by its producer) longer ago than this, arriving later, is late.
IDLE_WATERMARK_LAG_S: Final = 10.0

PLANNER_DEFAULTS: Final[Mapping[str, Any]] = {
    "session.timeout.ms": 10000,
    "heartbeat.interval.ms": 1000,
    # A micro-batch runs a whole pipeline between two polls.
    "max.poll.interval.ms": 1800000,
}


class KafkaDeliveryError(RuntimeError):
    """A produced message was not acknowledged by the broker (or not within the flush timeout)."""


class KafkaReadError(RuntimeError):
    """A planned offset range could not be read."""


def _log_error(error: KafkaError) -> None:
    # librdkafka logs transient errors itself (through `logger`); only fatal ones need saying.
    level = logging.ERROR if error.fatal() else logging.DEBUG
    _RDKAFKA_LOG.log(level, "kafka client error: %s", error)


@dataclass(frozen=True)
class KafkaConfig:
    """Where the brokers are and how to talk to them; plain strings, so it pickles to workers.

    `options` are extra librdkafka settings (security, timeouts, ...) applied to every client;
    per-call overrides win over them, and they win over the built-in defaults.
    """

    bootstrap_servers: str
    group_id: str = "autocaption"
    options: tuple[tuple[str, str], ...] = ()

    def _base(self) -> dict[str, Any]:
        return {
            "bootstrap.servers": self.bootstrap_servers,
            "logger": _RDKAFKA_LOG,
            "error_cb": _log_error,
            **dict(self.options),
        }

    def consumer_config(self, **overrides: Any) -> dict[str, Any]:
        """librdkafka consumer settings: group id, options, no auto commit, then overrides.

        Keys are librdkafka names: pass dotted ones as `**{"session.timeout.ms": 6000}`.
        """
        # Never auto commit, whatever the options say: offsets are committed after the work.
        config = {"group.id": self.group_id, **self._base(), "enable.auto.commit": False}
        config.update(overrides)
        return config

    def producer_config(self, **overrides: Any) -> dict[str, Any]:
        """librdkafka producer settings: idempotent by default, then options, then overrides."""
        config = {"enable.idempotence": True, **self._base()}
        config.update(overrides)
        return config

    def admin_config(self) -> dict[str, Any]:
        return self._base()


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


def _record(message: Message) -> KafkaRecord:
    kind, timestamp = message.timestamp()
    return KafkaRecord(
        topic=str(message.topic()),
        partition=int(message.partition() or 0),
        offset=int(message.offset() or 0),
        key=message.key(),
        value=message.value(),
        timestamp_ms=None if kind == 0 else int(timestamp),  # 0: TIMESTAMP_NOT_AVAILABLE
    )


def _timestamped(record: KafkaRecord) -> Any:
    if record.timestamp_ms is None:
        return record
    return TimestampedValue(record, Timestamp(micros=record.timestamp_ms * 1000))


def _check(message: Message) -> bool:
    """True for a data message; False for an ignorable event; raises on a real error."""
    error = message.error()
    if error is None:
        return True
    if error.code() == KafkaError._PARTITION_EOF or error.retriable():
        return False
    raise KafkaException(error)


# --- bounded read -----------------------------------------------------------------------------


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
                if message is None or not _check(message):
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
                yield _timestamped(_record(message))
                if offset >= stop - 1:
                    return
        finally:
            consumer.close()


# --- unbounded read ---------------------------------------------------------------------------


class _UnboundedOffsetTracker(OffsetRestrictionTracker):
    def is_bounded(self) -> bool:
        return bool(self.current_restriction().stop < UNBOUNDED_STOP)


@dataclass
class _PartitionReader:
    consumer: Consumer
    next_offset: int
    last_data: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)


class _ConsumerPool:
    """Process-wide consumers for unbounded reads.

    The local runner builds a fresh DoFn for every bundle and re-invokes the source hundreds of
    times a second, so a consumer per call (connect, fetch) would dominate; one per partition
    per process is kept here instead, plus one per group for committing offsets. Readers unused
    for `READER_IDLE_CLOSE_S` (their partition moved to another worker) are closed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._readers: dict[tuple[KafkaConfig, str, int], _PartitionReader] = {}
        self._committers: dict[KafkaConfig, Consumer] = {}

    def reader(
        self, config: KafkaConfig, topic: str, partition: int, start: int
    ) -> _PartitionReader:
        key = (config, topic, partition)
        now = time.monotonic()
        with self._lock:
            reader = self._readers.pop(key, None)  # taken out while in use
            stale = [k for k, r in self._readers.items() if now - r.last_used > READER_IDLE_CLOSE_S]
            closing = [self._readers.pop(k).consumer for k in stale]
        _close_quietly(closing)
        if reader is None:
            consumer = Consumer(config.consumer_config(**{"auto.offset.reset": "earliest"}))
            consumer.assign([TopicPartition(topic, partition, start)])
            return _PartitionReader(consumer, start)
        if reader.next_offset != start:
            reader.consumer.assign([TopicPartition(topic, partition, start)])
            reader.next_offset = start
        return reader

    def give_back(
        self, config: KafkaConfig, topic: str, partition: int, reader: _PartitionReader
    ) -> None:
        key = (config, topic, partition)
        reader.last_used = time.monotonic()
        with self._lock:
            previous = self._readers.pop(key, None)
            self._readers[key] = reader
        if previous is not None:
            _close_quietly([previous.consumer])

    def drain(self, config: KafkaConfig, topic: str, partition: int) -> None:
        """Closes a partition's reader for good, and the group's committer after the last one."""
        with self._lock:
            reader = self._readers.pop((config, topic, partition), None)
            closing = [] if reader is None else [reader.consumer]
            if not any(k[0] == config for k in self._readers):
                committer = self._committers.pop(config, None)
                closing += [] if committer is None else [committer]
        _close_quietly(closing)

    def commit(self, config: KafkaConfig, offsets: list[TopicPartition]) -> None:
        with self._lock:
            committer = self._committers.get(config)
            if committer is None:
                committer = self._committers[config] = Consumer(config.consumer_config())
            committer.commit(offsets=offsets, asynchronous=False)

    def close_all(self) -> None:
        with self._lock:
            readers, self._readers = list(self._readers.values()), {}
            committers, self._committers = list(self._committers.values()), {}
        _close_quietly([r.consumer for r in readers] + committers)


def _close_quietly(consumers: Iterable[Consumer]) -> None:
    for consumer in consumers:
        try:
            consumer.close()
        except (KafkaException, RuntimeError) as error:
            _LOG.debug("closing a pooled consumer: %s", error)


_POOL = _ConsumerPool()
atexit.register(_POOL.close_all)


def committed_or_earliest(config: KafkaConfig, topic: str, partition: int) -> int:
    """The group's committed offset of a partition, else its earliest (or latest) offset.

    Which one follows `auto.offset.reset` in `config.options` (default earliest). "latest"
    uses the high watermark, which Tansu reports wrong for multi-record batches.
    """
    consumer = Consumer(config.consumer_config())
    try:
        tp = TopicPartition(topic, partition)
        committed = consumer.committed([tp], timeout=30)[0]
        if committed.error is None and committed.offset >= 0:
            return int(committed.offset)
        low, high = consumer.get_watermark_offsets(tp, timeout=30)
        reset = dict(config.options).get("auto.offset.reset", "earliest")
        return int(high if reset in ("latest", "largest", "end") else max(low, 0))
    finally:
        consumer.close()


class _UnboundedPartitionProvider(RestrictionProvider):
    def __init__(self, config: KafkaConfig) -> None:
        self._config = config

    def initial_restriction(self, element: tuple[str, int]) -> OffsetRange:
        topic, partition = element
        return OffsetRange(committed_or_earliest(self._config, topic, partition), UNBOUNDED_STOP)

    def create_tracker(self, restriction: OffsetRange) -> OffsetRestrictionTracker:
        return _UnboundedOffsetTracker(restriction)

    def restriction_size(self, element: tuple[str, int], restriction: OffsetRange) -> int:
        return 1  # unknown backlog; never read high watermarks (wrong on some brokers)


_SELF_RESTRICTION: Final = beam.DoFn.RestrictionParam()  # the DoFn is its own provider
_MANUAL_WATERMARK: Final = beam.DoFn.WatermarkEstimatorParam(
    ManualWatermarkEstimator.default_provider()
)


class _ReadPartitionFn(beam.DoFn, _UnboundedPartitionProvider):
    """Reads one partition forever: each call takes what is available, then defers the rest."""

    def __init__(
        self,
        config: KafkaConfig,
        poll_idle_s: float,
        max_records_per_call: int,
        stop_after_idle_s: float | None,
    ) -> None:
        beam.DoFn.__init__(self)
        self._config = config
        self._poll_idle_s = poll_idle_s
        self._max_records = max_records_per_call
        self._stop_after_idle_s = stop_after_idle_s

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        element: tuple[str, int],
        # Beam passes the tracker and estimator by keyword: they must come last.
        finalizer: Any = beam.DoFn.BundleFinalizerParam,
        tracker: Any = _SELF_RESTRICTION,
        watermark: Any = _MANUAL_WATERMARK,
    ) -> Iterator[Any]:
        topic, partition = element
        restriction = tracker.current_restriction()
        reader = _POOL.reader(self._config, topic, partition, int(restriction.start))
        read = 0
        split = False  # the runner took the rest of the restriction
        try:
            # The first poll waits up to poll_idle_s: that wait is the back-off when idle, since
            # the local runner re-invokes at once whatever delay defer_remainder asks for.
            timeout = self._poll_idle_s
            while read < self._max_records:
                messages = reader.consumer.consume(self._max_records - read, timeout=timeout)
                timeout = 0.05
                data = [
                    m for m in messages if _check(m) and (m.offset() or 0) >= reader.next_offset
                ]
                if not data:
                    break
                for message in data:
                    record = _record(message)
                    if not tracker.try_claim(record.offset):
                        split = True
                        break
                    reader.next_offset = record.offset + 1
                    read += 1
                    if record.timestamp_ms is not None:
                        stamp = Timestamp(micros=record.timestamp_ms * 1000)
                        current = watermark.current_watermark()
                        if current is None or stamp > current:
                            watermark.set_watermark(stamp)
                    yield _timestamped(record)
                if split:
                    break
        finally:
            _POOL.give_back(self._config, topic, partition, reader)

        now = time.monotonic()
        if read:
            reader.last_data = now
            commit = [TopicPartition(topic, partition, reader.next_offset)]
            finalizer.register(lambda: _POOL.commit(self._config, commit))
        if split:
            return
        if read:
            tracker.defer_remainder(Duration.of(0))
            return
        if (
            self._stop_after_idle_s is not None
            and now - reader.last_data >= self._stop_after_idle_s
        ):
            tracker.try_claim(UNBOUNDED_STOP)  # claims nothing: ends the restriction here
            _POOL.drain(self._config, topic, partition)
            return
        # Caught up: let event time move on, or one idle partition holds back every window.
        idle_mark = Timestamp.now() - Duration.of(IDLE_WATERMARK_LAG_S)
        current = watermark.current_watermark()
        if current is None or idle_mark > current:
            watermark.set_watermark(idle_mark)
        tracker.defer_remainder(Duration.of(self._poll_idle_s))


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


class ReadFromKafka(beam.PTransform):
    """PBegin -> PCollection[KafkaRecord], timestamped with the message timestamps.

    Bounded: `ReadFromKafka(config, ranges)` reads exactly the given [start, stop) ranges (from
    `BatchPlanner.plan`); a missing offset fails after `fetch_timeout_s` with `KafkaReadError`.

    Unbounded (Flink and other streaming runners): `ReadFromKafka(config, topics=[...],
    unbounded=True)` reads every partition from the group's committed offsets (or earliest),
    sets the watermark from message timestamps and commits offsets on bundle finalization.
    Partitions are discovered when the pipeline starts. `stop_after_idle_s` is a testing and
    draining aid: a partition that brought nothing for that long stops being read, so the
    pipeline can finish on DirectRunner (single process only: there, in multi-process mode,
    deferred work is dropped).
    """

    def __init__(
        self,
        config: KafkaConfig,
        ranges: Iterable[PartitionRange] | None = None,
        *,
        topics: Sequence[str] | None = None,
        unbounded: bool = False,
        poll_idle_s: float = 0.5,
        max_records_per_call: int = 1000,
        stop_after_idle_s: float | None = None,
        fetch_timeout_s: float = 30.0,
    ) -> None:
        super().__init__()
        if unbounded == (ranges is not None) or unbounded != (topics is not None):
            raise ValueError("pass either ranges (bounded) or topics with unbounded=True")
        self._config = config
        self._ranges = [r for r in ranges or () if r.stop is None or r.stop > r.start]
        if any(r.stop is None for r in self._ranges):
            raise ValueError("a bounded read needs a stop offset in every range")
        self._topics = list(topics or ())
        self._unbounded = unbounded
        self._poll_idle_s = poll_idle_s
        self._max_records = max_records_per_call
        self._stop_after_idle_s = stop_after_idle_s
        self._fetch_timeout_s = fetch_timeout_s

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        if not self._unbounded:
            return (
                pbegin
                | "Ranges" >> beam.Create(self._ranges)
                | "ReadRanges" >> beam.ParDo(_ReadRangeFn(self._config, self._fetch_timeout_s))
            )
        config, topics = self._config, self._topics
        return (
            pbegin
            | "Impulse" >> beam.Impulse()
            | "Partitions" >> beam.FlatMap(lambda _: partitions_of(config, topics))
            | "Spread" >> beam.Reshuffle()
            | "ReadPartitions"
            >> beam.ParDo(
                _ReadPartitionFn(
                    config, self._poll_idle_s, self._max_records, self._stop_after_idle_s
                )
            )
        )


# --- micro-batch planning ---------------------------------------------------------------------


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
        _LOG.info("assigned %s", [(tp.topic, tp.partition) for tp in partitions])

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._start.pop((tp.topic, tp.partition), None)
            self._seen.pop((tp.topic, tp.partition), None)
        _LOG.info("revoked %s", [(tp.topic, tp.partition) for tp in partitions])

    def wait_for_assignment(self, timeout_s: float = 30.0) -> bool:
        """Polls until the group has been joined (True) or `timeout_s` passed; moves nothing."""
        deadline = time.monotonic() + timeout_s
        while not self._joined and time.monotonic() < deadline:
            message = self._consumer.poll(0.1)
            if message is not None and _check(message):
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
                if not _check(message):
                    continue
                key = (str(message.topic()), int(message.partition() or 0))
                offset = int(message.offset() or 0)
                self._start.setdefault(key, offset)
                if offset < self._seen.get(key, -1):
                    continue
                self._seen[key] = offset + 1
                peeked += 1
                if not got_first:
                    got_first = True
                    deadline = time.monotonic() + max_wait_s
        return [
            PartitionRange(topic, partition, self._start[(topic, partition)], seen)
            for (topic, partition), seen in sorted(self._seen.items())
            if seen > self._start.get((topic, partition), seen)
        ]

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
                _LOG.warning("not committing %s[%d]: no longer assigned", r.topic, r.partition)
        if not offsets:
            return []
        try:
            results = self._consumer.commit(offsets=offsets, asynchronous=False) or []
        except KafkaException as error:
            _LOG.warning("commit failed (rebalance?): %s", error)
            return []
        done = []
        for tp in results:
            if tp.error is not None:
                _LOG.warning("commit of %s[%d] failed: %s", tp.topic, tp.partition, tp.error)
                continue
            key = (tp.topic, tp.partition)
            done.append(key)
            if key in self._start:
                self._start[key] = max(self._start[key], int(tp.offset))
        return done

    def rewind(self, ranges: Sequence[PartitionRange]) -> None:
        """After a failed batch: the next `plan` starts at these ranges again."""
        for r in ranges:
            key = (r.topic, r.partition)
            if key not in self._start:
                continue  # revoked meanwhile: the new owner starts from the committed offset
            try:
                self._consumer.seek(TopicPartition(r.topic, r.partition, r.start))
            except KafkaException as error:
                _LOG.warning("cannot rewind %s[%d]: %s", r.topic, r.partition, error)
                continue
            self._start[key] = r.start
            self._seen[key] = r.start

    def close(self) -> None:
        """Leaves the group without committing anything."""
        self._consumer.close()


# --- writing ----------------------------------------------------------------------------------


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


def produce_once(
    config: KafkaConfig,
    topic: str,
    key: str | bytes | None,
    value: bytes,
    timeout_s: float = 30.0,
) -> None:
    """Produces one message and waits for its acknowledgement; `KafkaDeliveryError` if none."""
    producer = Producer(config.producer_config())
    errors: list[str] = []

    def on_delivery(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            errors.append(error.str())

    _produce(producer, topic, _as_bytes(key), value, on_delivery)
    left = producer.flush(timeout_s)
    if errors or left:
        reason = errors[0] if errors else f"not acknowledged within {timeout_s} s"
        raise KafkaDeliveryError(f"{topic}: {reason}")


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

    def close(self, timeout_s: float = 5.0) -> None:
        self._producer.flush(timeout_s)


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
            _LOG.debug("topic %s exists", topic)


__all__ = [
    "BatchPlanner",
    "EventPublisher",
    "KafkaConfig",
    "KafkaDeliveryError",
    "KafkaReadError",
    "KafkaRecord",
    "PartitionRange",
    "ReadFromKafka",
    "WriteToKafka",
    "committed_or_earliest",
    "ensure_topics",
    "partitions_of",
    "produce_once",
]
