"""`autocaption backfill` over objects in a real S3 server (moto_server), as a user runs it."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.kafka.admin import ensure_topics
from connectors.kafka.config import KafkaConfig
from tests.stream_service import Service, collect, running

ROOT = Path(__file__).resolve().parents[2]
GOOD = {  # video_id -> (kind, make_media options)
    "b-talk": ("mp4", {"name": "b-talk.mp4"}),
    "b-lecture": ("webm", {"name": "b-lecture.webm", "clip": "speech_b"}),
    "b-vorbis": ("mkv", {"name": "b-vorbis.mkv"}),
    "b-interview": ("mov", {"name": "b-interview.mov"}),
    "b-podcast": ("mp3", {"name": "b-podcast.mp3", "clip": "speech_b"}),
    "b-voice": ("wav", {"name": "b-voice.wav"}),
    "b-radio": ("ogg", {"name": "b-radio.ogg", "clip": "speech_b"}),
    "b-book": ("flac", {"name": "b-book.flac"}),
    "b-tracks": ("two_audio_mp4", {"name": "b-tracks.mp4"}),
}
BROKEN = {  # video_id -> (kind, file name, code)
    "b-empty": ("empty", "b-empty.mp4", "unsupported_media"),
    "b-truncated": ("truncated_mp4", "b-truncated.mp4", "unsupported_media"),
    "b-no-audio": ("no_audio_mp4", "b-no-audio.mp4", "no_audio_stream"),
    "b-text": ("text_mp4", "b-text.mp4", "unsupported_media"),
    "b-noise": ("random_bytes", "b-noise.mkv", "unsupported_media"),
}


def backfill(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "backfill", *args],
        capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    return result, time.monotonic() - started


def report(path: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    rows = pq.read_table(path).to_pylist()
    return {row["video_id"] or f"?{i}": row for i, row in enumerate(rows)}


@pytest.fixture
def library(bucket: str, media) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The 14 objects in S3: video_id -> source URI."""
    s3 = boto3.client("s3")
    sources = {}
    items = {**GOOD, **{k: (kind, {"name": name}) for k, (kind, name, _) in BROKEN.items()}}
    for video_id, (kind, opts) in items.items():
        path = media(kind, **opts)
        key = f"uploads/{path.name}"
        s3.upload_file(str(path), bucket, key)
        sources[video_id] = f"s3://{bucket}/{key}"
    return sources


def test_parquet_manifest_then_skip_existing(
    library, bucket: str, real_model: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    manifest = tmp_path / "videos.parquet"
    pq.write_table(
        pa.Table.from_pylist([{"video_id": k, "source": v} for k, v in library.items()]), manifest
    )
    model = str(real_model)  # real weights: the language is heard, the time saved is honest
    common = ["--manifest", str(manifest), "--storage", f"s3://{bucket}", "--model", model]
    first, first_s = backfill(*common, "--report", str(tmp_path / "first.parquet"))
    assert first.returncode == 1, first.stderr  # some inputs failed
    rows = report(tmp_path / "first.parquet")
    assert len(rows) == 14
    assert {k for k, r in rows.items() if r["status"] == "ready"} == set(GOOD)
    for video_id, (_, _, code) in BROKEN.items():
        assert (rows[video_id]["status"], rows[video_id]["error_code"]) == ("failed", code)
    ready = rows["b-talk"]
    assert ready["cues"] > 0 and ready["duration_s"] > 5 and ready["language"] == "en"
    assert ready["model"] and ready["processing_s"] > 0 and ready["source"] == library["b-talk"]

    _, second_s = backfill(*common, "--report", str(tmp_path / "second.parquet"), "--skip-existing")
    rows = report(tmp_path / "second.parquet")
    assert len(rows) == 14
    assert {k for k, r in rows.items() if r["status"] == "skipped"} == set(GOOD)
    assert {k for k, r in rows.items() if r["status"] == "failed"} == set(BROKEN)
    print(f"backfill of 14: first run {first_s:.1f} s, --skip-existing {second_s:.1f} s")
    assert second_s <= first_s / 3


def test_csv_and_jsonl_with_bad_rows(
    library, bucket: str, scripted_model: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    csv_path = tmp_path / "videos.csv"
    with csv_path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["video_id", "source", "language"])
        writer.writerow(["b-talk", library["b-talk"], "en"])
        writer.writerow(["../../etc/passwd", library["b-voice"], ""])  # unsafe id
        writer.writerow(["b-nosource", "", ""])  # missing source
        writer.writerow(["b-web", "http://example.com/a.mp4", ""])  # unsupported scheme
    jsonl = tmp_path / "videos.jsonl"
    jsonl.write_text(
        json.dumps({"video_id": "b-voice", "source": library["b-voice"]}) + "\n"
        + json.dumps({"source": library["b-radio"]}) + "\n"  # missing video_id
    )  # fmt: skip
    for path, expect_ready, bad in ((csv_path, {"b-talk"}, 3), (jsonl, {"b-voice"}, 1)):
        out = tmp_path / f"{path.stem}-{path.suffix[1:]}.parquet"
        result, _ = backfill(
            "--manifest", str(path), "--storage", f"s3://{bucket}", "--model", str(scripted_model),
            "--report", str(out),
        )  # fmt: skip
        rows = pq.read_table(out).to_pylist()
        assert {r["video_id"] for r in rows if r["status"] == "ready"} == expect_ready, (
            result.stderr
        )
        invalid = [r for r in rows if r["status"] == "failed"]
        assert len(invalid) == bad and all(r["error_code"] == "invalid_event" for r in invalid)
        assert result.returncode == 1 and "Traceback" not in result.stderr


def test_prefix_lists_the_bucket(
    library, bucket: str, scripted_model: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    boto3.client("s3").put_object(Bucket=bucket, Key="uploads/notes.txt", Body=b"not media")
    result, _ = backfill(
        "--prefix", f"s3://{bucket}/uploads/", "--storage", f"s3://{bucket}/out",
        "--model", str(scripted_model), "--report", str(tmp_path / "r.parquet"),
    )  # fmt: skip
    rows = report(tmp_path / "r.parquet")
    assert len(rows) == 14, result.stderr  # notes.txt is not media
    assert sum(r["status"] == "ready" for r in rows.values()) == 9
    assert set(rows) >= {"b-talk", "b-lecture", "b-noise"}


def test_a_killed_backfill_resumes_without_redoing_finished_videos(
    bucket: str, media, scripted_model: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = media("mp4", name="resume.mp4", clip="speech_b")
    s3 = boto3.client("s3")
    ids = [f"r-{i:02d}" for i in range(40)]  # a long write phase to land the kill in
    for video_id in ids:
        s3.upload_file(str(path), bucket, f"uploads/{video_id}.mp4")
    manifest = tmp_path / "videos.jsonl"
    manifest.write_text("".join(
        json.dumps({"video_id": v, "source": f"s3://{bucket}/uploads/{v}.mp4"}) + "\n" for v in ids
    ))  # fmt: skip
    args = ["backfill", "--manifest", str(manifest), "--storage", f"s3://{bucket}",
            "--model", str(scripted_model), "--skip-existing"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "pipelines.cli", *args, "--report",
                                str(tmp_path / "a.parquet")], env=env)  # fmt: skip

    def manifests() -> dict[str, str]:
        found = {}
        for video_id in ids:
            try:
                body = s3.get_object(Bucket=bucket, Key=f"captions/{video_id}/manifest.json")[
                    "Body"
                ]
                found[video_id] = json.loads(body.read())["created_at"]
            except s3.exceptions.NoSuchKey:
                pass
        return found

    def manifest_count() -> int:  # one cheap listing, so the kill follows the first manifest
        listing = s3.list_objects_v2(Bucket=bucket, Prefix="captions/")
        return sum(o["Key"].endswith("/manifest.json") for o in listing.get("Contents", []))

    # the local runner writes tracks in the last stage, video after video: kill in there
    deadline = time.monotonic() + 180
    while manifest_count() < 1 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = manifests()
    assert 0 < len(done_before) < len(ids), "the kill should land mid-way"
    command = [
        sys.executable,
        "-m",
        "pipelines.cli",
        *args,
        "--report",
        str(tmp_path / "b.parquet"),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    rows = report(tmp_path / "b.parquet")
    assert {k for k, r in rows.items() if r["status"] == "skipped"} == set(done_before)
    assert {k for k, r in rows.items() if r["status"] == "ready"} == set(ids) - set(done_before)
    after = manifests()
    assert all(after[k] == created for k, created in done_before.items())  # not redone


# --- through a fleet of workers ------------------------------------------------------------------

SAME = ("video_id", "source", "status", "error_code", "duration_s", "language", "cues", "model")


def test_a_fleet_of_workers_makes_the_local_report_and_a_dying_worker_loses_nothing(
    library, bucket: str, bootstrap_servers: str, scripted_model: Path, tmp_path: Path, media
) -> None:  # type: ignore[no-untyped-def]
    s3 = boto3.client("s3")
    extra = media("wav", name="fleet.wav", clip="speech_b")
    for i in range(12):  # a longer run, so one worker dies while the other has work left
        s3.upload_file(str(extra), bucket, f"uploads/fleet-{i:02d}.wav")
    rows = [{"video_id": k, "source": v} for k, v in library.items()]
    rows += [{"video_id": f"f-{i:02d}", "source": f"s3://{bucket}/uploads/fleet-{i:02d}.wav"}
             for i in range(12)]  # fmt: skip
    manifest = tmp_path / "videos.parquet"
    pq.write_table(pa.Table.from_pylist(rows), manifest)
    model = ["--model", str(scripted_model)]
    local, _ = backfill("--manifest", str(manifest), "--storage", f"s3://{bucket}/local", *model,
                        "--report", str(tmp_path / "local.parquet"))  # fmt: skip
    assert local.returncode == 1, local.stderr

    prefix = f"fl{uuid.uuid4().hex[:6]}."
    group = f"backfill-{uuid.uuid4().hex[:6]}"
    storage = f"s3://{bucket}/fleet"
    workers = [
        Service(bootstrap_servers, bucket, scripted_model, prefix, group, storage) for _ in "ab"
    ]
    for worker in workers:  # the stream service on the backfill topic, a group of its own
        worker.topics["video.uploaded"] = f"{prefix}video.backfill"
    ensure_topics(KafkaConfig(bootstrap_servers), list(workers[0].topics.values()))
    fleet = ["--bootstrap-servers", bootstrap_servers,
             "--uploaded-topic", f"{prefix}video.backfill",
             "--ready-topic", workers[0].topics["captions.ready"],
             "--failed-topic", workers[0].topics["captions.failed"]]  # fmt: skip
    command = [sys.executable, "-m", "pipelines.cli", "backfill", "--manifest", str(manifest),
               "--storage", storage, *model, *fleet, "--wait", "400"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with (
        running(workers[0], "--max-batch-records", "2"),
        running(workers[1], "--max-batch-records", "2"),
    ):
        client = subprocess.Popen([*command, "--report", str(tmp_path / "fleet.parquet")],
                                  env=env, stderr=subprocess.PIPE, text=True)  # fmt: skip
        collect(bootstrap_servers, [workers[0].topics["captions.ready"]],
                lambda e: len(e) >= 3, timeout=180)  # fmt: skip
        workers[0].stop(signal.SIGKILL)  # one worker dies mid-way; the group moves its work
        _, stderr = client.communicate(timeout=480)
        assert client.returncode == 1, stderr  # the broken objects failed
        assert "Traceback" not in stderr

        fleet_rows = report(tmp_path / "fleet.parquet")
        local_rows = report(tmp_path / "local.parquet")
        assert set(fleet_rows) == set(local_rows) and len(fleet_rows) == 26
        for video_id, row in local_rows.items():
            assert {k: fleet_rows[video_id][k] for k in SAME} == {k: row[k] for k in SAME}
        assert all(r["processing_s"] > 0 for r in fleet_rows.values())

        again_report = ["--skip-existing", "--report", str(tmp_path / "again.parquet")]
        again = subprocess.run([*command, *again_report],
                               env=env, capture_output=True, text=True, timeout=480)  # fmt: skip
        assert again.returncode == 1, again.stderr
        rows_again = report(tmp_path / "again.parquet")
        ready = {k for k, r in fleet_rows.items() if r["status"] == "ready"}
        assert {k for k, r in rows_again.items() if r["status"] == "skipped"} == ready
        assert {k for k, r in rows_again.items() if r["status"] == "failed"} == set(BROKEN)
