"""connectors.kafka against a real broker: Apache Kafka started by the test session, or the one
AUTOCAPTION_TEST_BOOTSTRAP_SERVERS names."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.util import assert_that, equal_to
from confluent_kafka import Consumer, Producer, TopicPartition

from connectors.kafka.admin import ensure_topics
from connectors.kafka.config import KafkaConfig, KafkaDeliveryError
from connectors.kafka.planner import BatchPlanner
from connectors.kafka.read import ReadFromKafka
from connectors.kafka.records import KafkaRecord, PartitionRange
from connectors.kafka.write import WriteToKafka, produce_once
from devtools.services import free_port

# Short sessions make group changes quick; the test broker allows them
# (group.min.session.timeout.ms=1000), a stock broker refuses sessions under 6 s.
_SESSION_MS = "6000" if os.environ.get("AUTOCAPTION_TEST_BOOTSTRAP_SERVERS") else "2000"
FAST_GROUP = (("session.timeout.ms", _SESSION_MS), ("heartbeat.interval.ms", "200"))

Row = tuple[str, int, int, bytes | None, bytes | None]


@pytest.fixture
def config(bootstrap_servers: str, topic_prefix: str) -> KafkaConfig:
    return KafkaConfig(bootstrap_servers, group_id=f"{topic_prefix}group", options=FAST_GROUP)


@pytest.fixture
def topic(config: KafkaConfig, topic_prefix: str) -> str:
    name = f"{topic_prefix}video.uploaded"
    ensure_topics(config, [name], partitions=3)
    ensure_topics(config, [name], partitions=3)  # already there: fine
    return name


def produce_batched(config: KafkaConfig, topic: str, per_partition: dict[int, int]) -> list[Row]:
    """Produces in multi-record batches (linger) and returns what the broker acknowledged."""
    producer = Producer(config.producer_config(**{"linger.ms": 50}))
    acked: list[Row] = []

    def on_delivery(error: object, message: object) -> None:
        assert error is None, error
        acked.append(row_of(message))

    for partition, count in per_partition.items():
        for i in range(count):
            key = f"video-{partition}-{i}".encode()
            producer.produce(
                topic, value=b"v" + key, key=key, partition=partition, on_delivery=on_delivery
            )
    assert producer.flush(30) == 0
    return sorted(acked)


def row_of(message: object) -> Row:
    if isinstance(message, KafkaRecord):
        return (message.topic, message.partition, message.offset, message.key, message.value)
    return (
        message.topic(),  # type: ignore[attr-defined]
        message.partition(),  # type: ignore[attr-defined]
        message.offset(),  # type: ignore[attr-defined]
        message.key(),  # type: ignore[attr-defined]
        message.value(),  # type: ignore[attr-defined]
    )


def ranges_of(rows: Sequence[Row]) -> list[PartitionRange]:
    by_partition: dict[tuple[str, int], list[int]] = {}
    for topic, partition, offset, _, _ in rows:
        by_partition.setdefault((topic, partition), []).append(offset)
    return [PartitionRange(t, p, min(o), max(o) + 1) for (t, p), o in by_partition.items()]


def size(ranges: Sequence[PartitionRange]) -> int:
    return sum((r.stop or 0) - r.start for r in ranges)


def read_rows(
    config: KafkaConfig, ranges: Sequence[PartitionRange], expected: Sequence[Row], *args: str
) -> None:
    with beam.Pipeline(runner=FnApiRunner(), options=PipelineOptions(list(args))) as pipeline:
        rows = pipeline | ReadFromKafka(config, ranges) | beam.Map(row_of)
        assert_that(rows, equal_to(expected))


# What an in-process pipeline saw, by test topic (a list in a DoFn would be a pickled copy).
COLLECTED: dict[str, list[Row]] = {}


def collect(row: Row, key: str) -> None:
    COLLECTED.setdefault(key, []).append(row)


@pytest.fixture
def planner(config: KafkaConfig, topic: str) -> Iterator[BatchPlanner]:
    planner = BatchPlanner(config, [topic])
    assert planner.wait_for_assignment(20)
    yield planner
    planner.close()


# --- bounded read -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [(), ("--direct_num_workers=2", "--direct_running_mode=multi_processing")],
    ids=["in_process", "multi_processing"],
)
def test_bounded_read_returns_exactly_the_planned_records(
    config: KafkaConfig, topic: str, args: tuple[str, ...]
) -> None:
    rows = produce_batched(config, topic, {0: 7, 1: 5, 2: 1})
    read_rows(config, ranges_of(rows), rows, *args)


def test_bounded_read_skips_transaction_markers_inside_and_at_the_end_of_a_range(
    config: KafkaConfig, topic: str
) -> None:
    producer = Producer(config.producer_config(**{"transactional.id": f"{topic}.tx"}))
    producer.init_transactions(10)
    for _ in range(2):  # data at 0, 1, 3, 4; commit markers at 2 and 5
        producer.begin_transaction()
        for i in range(2):
            producer.produce(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0)
        producer.commit_transaction(10)
    expected = [(topic, 0, o, b"k%d" % (o % 3), b"v%d" % (o % 3)) for o in (0, 1, 3, 4)]
    # [0, 6) is what a correct high watermark gives: it ends in a marker, no message.
    read_rows(config, [PartitionRange(topic, 0, 0, 6)], expected)
    read_rows(config, [PartitionRange(topic, 0, 2, 5)], expected[2:])


def test_bounded_read_starts_and_stops_inside_a_producer_batch(
    config: KafkaConfig, topic: str
) -> None:
    rows = produce_batched(config, topic, {0: 9})
    middle = [r for r in rows if 3 <= r[2] < 6]
    read_rows(config, [PartitionRange(topic, 0, 3, 6)], middle)


# --- micro-batch planning ---------------------------------------------------------------------


def test_plan_respects_max_records_and_commit_moves_on(
    config: KafkaConfig, topic: str, planner: BatchPlanner
) -> None:
    rows = produce_batched(config, topic, {0: 6, 1: 4})
    first = planner.plan(max_records=4, max_wait_s=2)
    assert size(first) == 4
    assert sorted(planner.commit(first)) == sorted((r.topic, r.partition) for r in first)
    rest: list[PartitionRange] = []
    deadline = time.monotonic() + 30
    while size(rest) < 6:
        assert time.monotonic() < deadline, "records left unplanned"
        batch = planner.plan(max_records=6 - size(rest), max_wait_s=5)
        if batch:
            planner.commit(batch)
        rest += batch
    read_rows(config, first + rest, rows)
    started = time.monotonic()
    assert planner.plan(max_records=100, max_wait_s=0.5) == []
    assert time.monotonic() - started < 2


def test_new_planner_after_commit_plans_only_new_records(
    config: KafkaConfig, topic: str, planner: BatchPlanner
) -> None:
    produce_batched(config, topic, {0: 3, 2: 2})
    first = planner.plan(max_records=5, max_wait_s=15)
    assert size(first) == 5
    planner.commit(first)
    planner.close()
    new = produce_batched(config, topic, {0: 2, 1: 1})

    second = BatchPlanner(config, [topic])
    try:
        assert second.wait_for_assignment(20)
        # As many records as there are new ones: the plan ends when they are in, however long
        # a busy machine takes to fetch them (a plan that waited for more would end empty).
        ranges = second.plan(max_records=size(ranges_of(new)), max_wait_s=15)
        assert sorted(ranges, key=lambda r: r.partition) == ranges_of(new)
    finally:
        second.close()


def test_new_planner_after_a_crash_replans_uncommitted_ranges(
    config: KafkaConfig, topic: str, planner: BatchPlanner
) -> None:
    rows = produce_batched(config, topic, {0: 4, 1: 3})
    planned = planner.plan(max_records=7, max_wait_s=15)
    assert size(planned) == 7
    planner.close()  # crash: nothing committed

    second = BatchPlanner(config, [topic])
    try:
        assert second.wait_for_assignment(20)
        assert second.plan(max_records=size(planned), max_wait_s=15) == planned
    finally:
        second.close()
    assert sorted(planned, key=lambda r: r.partition) == ranges_of(rows)


def test_rewind_plans_the_failed_ranges_again(
    config: KafkaConfig, topic: str, planner: BatchPlanner
) -> None:
    produce_batched(config, topic, {1: 5})
    planned = planner.plan(max_records=3, max_wait_s=15)
    assert planned == [PartitionRange(topic, 1, 0, 3)]
    planner.rewind(planned)
    assert planner.plan(max_records=5, max_wait_s=15) == [PartitionRange(topic, 1, 0, 5)]


def test_commit_after_a_rebalance_commits_only_partitions_still_owned(
    config: KafkaConfig, topic: str, planner: BatchPlanner
) -> None:
    produce_batched(config, topic, {0: 2, 1: 2, 2: 2})
    planned = planner.plan(max_records=6, max_wait_s=15)
    assert len(planned) == 3
    joiner = BatchPlanner(config, [topic])
    joined = threading.Thread(target=joiner.wait_for_assignment, args=(20,))
    joined.start()
    deadline = time.monotonic() + 20
    while joined.is_alive() and time.monotonic() < deadline:
        planner.plan(max_records=100, max_wait_s=0.3)  # rebalance callbacks run in polls
    joined.join()
    try:
        committed = planner.commit(planned)
        assert 0 < len(committed) < 3
        left = 6 - 2 * len(committed)  # two records in each partition it took over
        taken_over = joiner.plan(max_records=left, max_wait_s=15)
        assert {(r.topic, r.partition) for r in taken_over} | set(committed) == {
            (topic, p) for p in range(3)
        }
        assert all(r.start == 0 for r in taken_over)
    finally:
        joiner.close()


# --- unbounded read ---------------------------------------------------------------------------


def test_unbounded_read_takes_records_before_and_during_the_run_and_commits(
    config: KafkaConfig, topic: str
) -> None:
    before = produce_batched(config, topic, {0: 3, 1: 2})
    during: list[Row] = []

    def produce_later() -> None:
        time.sleep(1.5)
        during.extend(produce_batched(config, topic, {0: 2, 2: 3}))

    producer = threading.Thread(target=produce_later)
    producer.start()
    with beam.Pipeline(runner=FnApiRunner()) as pipeline:
        rows = (
            pipeline
            | ReadFromKafka(
                config, topics=[topic], unbounded=True, poll_idle_s=0.2, stop_after_idle_s=3
            )
            | beam.Map(row_of)
        )
        rows | beam.Map(collect, topic)
    producer.join()
    seen = COLLECTED.pop(topic)
    assert sorted(seen) == sorted(before + during)

    planner = BatchPlanner(config, [topic])
    try:
        assert planner.wait_for_assignment(20)
        assert planner.plan(max_records=100, max_wait_s=1) == []
    finally:
        planner.close()


def test_unbounded_read_survives_the_portable_path_flink_takes(
    config: KafkaConfig, topic: str
) -> None:
    rows = produce_batched(config, topic, {0: 4, 1: 3, 2: 2})
    options = PipelineOptions(
        ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"]
    )
    with beam.Pipeline(options=options) as pipeline:
        (
            pipeline
            | ReadFromKafka(
                config, topics=[topic], unbounded=True, poll_idle_s=0.2, stop_after_idle_s=1.5
            )
            | beam.Map(row_of)
            | beam.Map(collect, topic)
        )
    assert sorted(COLLECTED.pop(topic)) == rows


# --- writing ----------------------------------------------------------------------------------


def test_write_to_kafka_delivers_keyed_records(config: KafkaConfig, topic: str) -> None:
    events: list[tuple[str, str | bytes, bytes]] = [
        (topic, f"video-{i}", f"event {i}".encode()) for i in range(6)
    ]
    events.append((topic, b"raw-key", b"bytes key"))
    with beam.Pipeline(runner=FnApiRunner()) as pipeline:
        pipeline | beam.Create(events) | WriteToKafka(config)
    produce_once(config, topic, "published", b"once")

    consumer = Consumer(config.consumer_config(**{"auto.offset.reset": "earliest"}))
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    got: list[tuple[bytes | None, bytes | None]] = []
    deadline = time.monotonic() + 20
    while len(got) < 8 and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            got.append((message.key(), message.value()))
    consumer.close()
    expected = [(k if isinstance(k, bytes) else k.encode(), v) for _, k, v in events]
    assert sorted(got) == sorted([*expected, (b"published", b"once")])


def test_write_to_kafka_fails_the_bundle_when_delivery_fails() -> None:
    nowhere = KafkaConfig(f"127.0.0.1:{free_port()}", options=(("message.timeout.ms", "1500"),))
    with (
        pytest.raises(KafkaDeliveryError, match=r"1 message\(s\) not delivered"),
        beam.Pipeline(runner=FnApiRunner()) as pipeline,
    ):
        pipeline | beam.Create([("t", "k", b"v")]) | WriteToKafka(nowhere)
    with pytest.raises(KafkaDeliveryError):
        produce_once(nowhere, "t", "k", b"v", timeout_s=5)
