"""The unbounded read, for Flink and other streaming runners: every partition, for ever.

Each partition is one element of a splittable DoFn that takes what is there, then defers the
rest; the watermark follows message timestamps (an idle partition's moves with the clock), and
offsets are committed when the runner finalizes the bundle that read them.

Every bundle that Beam's Prism runner will finalize registers a callback. Prism asks the SDK to
finalize every bundle of a stage that declares finalization, not only the bundles whose
`ProcessBundleResponse` asked for it; the Python SDK releases a bundle that registered no
callback as soon as it is processed, so each such request failed with "Bundle is not in a
finalizable state" (132 tracebacks in one run). So every call of the read registers one, also a
call that read nothing (it commits the position the group already has), and so does
`_Finalizable`, fused before the read into the stage where the SDK pairs each partition with
its restriction: that stage carries the read's ParDo payload, and with it the declaration,
but runs no code of ours.

`drain()` ends every read of this process at its current position, so a streaming pipeline
finishes what it has read and stops with its offsets committed (the service's SIGTERM).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import apache_beam as beam
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.utils.timestamp import Duration, Timestamp
from confluent_kafka import Consumer, KafkaException, TopicPartition

from connectors.kafka.config import KafkaConfig
from connectors.kafka.records import is_data, record_of, timestamped

log = logging.getLogger(__name__)

# Stop of an unbounded restriction: Kafka offsets are signed 64-bit.
UNBOUNDED_STOP: Final = 2**63 - 1

# A pooled reader unused this long belongs to a partition now read elsewhere.
READER_IDLE_CLOSE_S: Final = 300.0

# How far behind the wall clock the watermark of a caught-up partition is put: a message
# timestamped (by its producer) longer ago than this, arriving later, is late.
IDLE_WATERMARK_LAG_S: Final = 10.0

_DRAINING = threading.Event()


def drain() -> None:
    """Stop reading: every unbounded read in this process ends at its next call, where it is.

    Records already read go on through the pipeline, which then finishes. The workers must run
    in this process (Prism or the portable runner with LOOPBACK workers); Flink is stopped with
    its own drain (`flink stop --drain`)."""
    _DRAINING.set()


class _UnboundedOffsetTracker(OffsetRestrictionTracker):
    """Offsets of one partition from a start to "for ever". Only checkpoints split it (the
    read stops where it is and resumes later): a split at a fraction of [start, 2**63) would
    put the rest at an offset no record has (Prism asks for one at 0.5: 2**62, which was then
    committed as the group's position), and one partition is read by one reader anyway."""

    def is_bounded(self) -> bool:
        return bool(self.current_restriction().stop < UNBOUNDED_STOP)

    def try_split(self, fraction_of_remainder: float) -> Any:
        if fraction_of_remainder > 0 and not self.is_bounded():
            return None
        return super().try_split(fraction_of_remainder)


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
        self._committed: dict[tuple[KafkaConfig, str, int], int] = {}

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
        """Commit `offsets` for the group, skipping those it committed already."""
        with self._lock:
            fresh = [
                tp
                for tp in offsets
                if self._committed.get((config, tp.topic, tp.partition), -1) < tp.offset
            ]
            if not fresh:
                return
            committer = self._committers.get(config)
            if committer is None:
                committer = self._committers[config] = Consumer(config.consumer_config())
            committer.commit(offsets=fresh, asynchronous=False)
            for tp in fresh:
                self._committed[(config, tp.topic, tp.partition)] = tp.offset

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
            log.debug("closing a pooled consumer: %s", error)


_POOL = _ConsumerPool()
atexit.register(_POOL.close_all)


def committed_or_earliest(config: KafkaConfig, topic: str, partition: int) -> int:
    """The group's committed offset of a partition, else its earliest (or latest) offset.

    Which one follows `auto.offset.reset` in `config.options` (default earliest). "latest"
    uses the high watermark (some Kafka-protocol brokers, such as Tansu, report it wrong for
    multi-record batches; Apache Kafka's is exact).
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


class _Finalizable(beam.DoFn):
    """Passes elements on; registers an empty finalization callback for its bundle (see the
    module's docstring: Prism finalizes every bundle of the stage it is fused into)."""

    def process(self, element: Any, finalizer: Any = beam.DoFn.BundleFinalizerParam) -> Any:
        finalizer.register(_nothing)
        yield element


def _nothing() -> None:
    pass


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
                    m for m in messages if is_data(m) and (m.offset() or 0) >= reader.next_offset
                ]
                if not data:
                    break
                for message in data:
                    record = record_of(message)
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
                    yield timestamped(record)
                if split:
                    break
        finally:
            _POOL.give_back(self._config, topic, partition, reader)

        now = time.monotonic()
        if read:
            reader.last_data = now
        # Registered in every call, also one that read nothing: see the module's docstring.
        commit = [TopicPartition(topic, partition, reader.next_offset)]
        finalizer.register(lambda: _POOL.commit(self._config, commit))
        if split:
            return
        if _DRAINING.is_set():
            tracker.try_claim(UNBOUNDED_STOP)  # claims nothing: ends the restriction here
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
