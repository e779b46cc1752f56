"""`ReadFromKafka`: the one read transform, bounded (micro-batches) or unbounded (streaming)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import apache_beam as beam

from connectors.kafka.admin import partitions_of
from connectors.kafka.bounded import _ReadRangeFn
from connectors.kafka.config import KafkaConfig
from connectors.kafka.records import PartitionRange
from connectors.kafka.unbounded import _Finalizable, _ReadPartitionFn


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
            | "Finalizable" >> beam.ParDo(_Finalizable())
            | "ReadPartitions"
            >> beam.ParDo(
                _ReadPartitionFn(
                    config, self._poll_idle_s, self._max_records, self._stop_after_idle_s
                )
            )
        )
