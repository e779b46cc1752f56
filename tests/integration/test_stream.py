"""`autocaption stream` against a real broker (Apache Kafka) and a real S3 server (moto_server).

The service runs as a subprocess, exactly as an operator starts it; the tests talk to it only
through Kafka topics, S3 objects and its /metrics endpoint.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path

import pytest
import webvtt

from captions.reading import read_caption_file
from devtools.media import CLIP_TEXT
from devtools.scoring import score
from tests.caption_rules import check_vtt_text
from tests.stream_service import (
    Service,
    collect,
    publish,
    running,
    s3_keys,
    s3_text,
    upload,
    upload_event,
    wait_for_topics,
)

GOOD = {  # video_id -> (kind, make_media options)
    "s-talk": ("mp4", {"name": "talk.mp4"}),
    "s-lecture": ("webm", {"name": "lecture.webm", "clip": "speech_b"}),
    "s-vorbis": ("mkv", {"name": "vorbis.mkv"}),
    "s-interview": ("mov", {"name": "interview.mov"}),
    "s-podcast": ("mp3", {"name": "podcast.mp3", "clip": "speech_b"}),
    "s-voice": ("wav", {"name": "voice.wav"}),
    "s-radio": ("ogg", {"name": "radio.ogg", "clip": "speech_b"}),
    "s-book": ("flac", {"name": "book.flac"}),
    "s-two-tracks": ("two_audio_mp4", {"name": "two_tracks.mp4"}),
}
BROKEN = {  # video_id -> (kind, file name, expected code)
    "s-empty": ("empty", "s-empty.mp4", "unsupported_media"),
    "s-truncated": ("truncated_mp4", "s-truncated.mp4", "unsupported_media"),
    "s-no-audio": ("no_audio_mp4", "s-no-audio.mp4", "no_audio_stream"),
    "s-text": ("text_mp4", "s-text.mp4", "unsupported_media"),
    "s-noise": ("random_bytes", "s-noise.mkv", "unsupported_media"),
}


@pytest.fixture
def service(
    bootstrap_servers: str, bucket: str, scripted_model: Path, topic_prefix: str
) -> Service:
    """The service on a scripted model: failure paths and delivery, no words asserted."""
    return Service(
        bootstrap_servers, bucket, scripted_model, topic_prefix, f"g-{uuid.uuid4().hex[:8]}"
    )


@pytest.fixture
def hearing_service(
    bootstrap_servers: str, bucket: str, real_model: Path, topic_prefix: str
) -> Service:
    """The service on the real Whisper base weights: for tests that assert words."""
    return Service(bootstrap_servers, bucket, real_model, topic_prefix, f"g-{uuid.uuid4().hex[:8]}")


def test_round_trip_answers_every_upload_and_keeps_running(hearing_service: Service, media) -> None:  # type: ignore[no-untyped-def]
    service = hearing_service
    messages: list[tuple[str | None, bytes]] = []
    kinds = {**GOOD, **{k: (kind, {"name": name}) for k, (kind, name, _) in BROKEN.items()}}
    for video_id, (kind, opts) in kinds.items():
        path = media(kind, **{**opts, "name": f"{video_id}-{opts['name']}"})
        messages.append((video_id, upload_event(video_id, upload(service.bucket, video_id, path))))
    malformed: list[tuple[str | None, bytes]] = [
        ("bad-json", b"{not json"),
        ("missing", json.dumps({"event_id": "e1", "video_id": "missing"}).encode()),
        (None, upload_event("../../etc/passwd", f"s3://{service.bucket}/videos/x/x.mp4")),
        ("s-gone", upload_event("s-gone", f"s3://{service.bucket}/videos/s-gone/none.mp4")),
    ]
    with running(service):
        wait_for_topics(service.bootstrap, list(service.topics.values()))
        publish(service.bootstrap, service.topics["video.uploaded"], messages + malformed)
        expected = len(GOOD) + len(BROKEN) + len(malformed)
        events = collect(
            service.bootstrap,
            [service.topics["captions.ready"], service.topics["captions.failed"]],
            lambda e: len(e) >= expected,
            timeout=240,
        )
        time.sleep(1.0)
        assert service.alive(), service.log_text()[-3000:]
        metrics = service.metrics()

    ready = {e["video_id"]: e for e in events if e["status"] == "ready"}
    failed = [e for e in events if e["status"] == "failed"]
    assert set(ready) == set(GOOD), service.log_text()[-3000:]
    assert len(failed) == len(BROKEN) + len(malformed) and len(events) == expected
    codes = {e["video_id"]: e["error"]["code"] for e in failed if e["video_id"]}
    assert {k: codes[k] for k in BROKEN} == {k: code for k, (_, _, code) in BROKEN.items()}
    assert codes["s-gone"] == "source_not_found"
    invalid = [e for e in failed if e["error"]["code"] == "invalid_event"]
    assert len(invalid) == 3  # bad JSON, missing fields, unsafe id
    assert all(e["raw"] for e in invalid)
    assert not [k for k in s3_keys(service.bucket, "") if "passwd" in k or k.startswith("etc")]
    for video_id, event in ready.items():
        assert event["_topic"] == service.topics["captions.ready"] and event["_key"] == video_id
        vtt_track = next(t for t in event["tracks"] if t["format"] == "vtt")
        key = vtt_track["uri"].split(f"s3://{service.bucket}/", 1)[1]
        vtt = s3_text(service.bucket, key)
        words = [w for cue in webvtt.from_string(vtt) for w in cue.text.split()]
        assert check_vtt_text(vtt, None) == [], video_id
        heard = score(CLIP_TEXT[GOOD[video_id][1].get("clip", "speech_a")], " ".join(words))
        assert heard.deletions == 0 and heard.wer <= 0.25, (video_id, heard.show(), words)
        manifest = json.loads(s3_text(service.bucket, f"captions/{video_id}/manifest.json"))
        assert manifest["status"] == "ready" and manifest["source"].startswith("s3://")
    assert "autocaption_videos_ready_total 9" in metrics
    assert "autocaption_events_invalid_total 3" in metrics


def test_kill_9_mid_batch_loses_nothing_and_replays_under_the_same_event_id(
    service: Service, media
) -> None:  # type: ignore[no-untyped-def]
    ids = [f"crash-{i:02d}" for i in range(12)]
    path = media("mp4", name="crash.mp4", clip="speech_b")
    messages = [(v, upload_event(v, upload(service.bucket, v, path))) for v in ids]
    ready_topic = service.topics["captions.ready"]
    with running(service, "--max-batch-records", "3"):
        wait_for_topics(service.bootstrap, list(service.topics.values()))
        publish(service.bootstrap, service.topics["video.uploaded"], messages)
        first = collect(service.bootstrap, [ready_topic], lambda e: len(e) >= 2, timeout=120)
        assert first, service.log_text()[-3000:]
        service.stop(signal.SIGKILL)
    with running(service, "--max-batch-records", "3"):
        events = collect(
            service.bootstrap,
            [ready_topic],
            lambda e: {x["video_id"] for x in e} >= set(ids),
            timeout=180,
        )
        assert service.alive()
    by_video: dict[str, set[str]] = {}
    for event in events:
        by_video.setdefault(event["video_id"], set()).add(event["event_id"])
    assert set(by_video) == set(ids), service.log_text()[-3000:]
    assert all(len(event_ids) == 1 for event_ids in by_video.values())  # replays share the id
    for video_id in ids:
        keys = s3_keys(service.bucket, f"captions/{video_id}/")
        files = [k.removeprefix(f"captions/{video_id}/") for k in keys]
        # Every track is kept as revisions too; a replay of the same cues makes none.
        assert [f for f in files if not f.startswith("revisions/")] == [
            "en.srt", "en.ttml", "en.vtt", "manifest.json", "transcript.json"
        ]  # fmt: skip
        assert "revisions/en/1.vtt" in files


def test_sigterm_finishes_the_batch_and_stops_cleanly(service: Service, media) -> None:  # type: ignore[no-untyped-def]
    path = media("wav", name="term.wav", clip="speech_b")
    messages = [(v, upload_event(v, upload(service.bucket, v, path))) for v in ("term-a", "term-b")]
    # 1.7 s of speech, in which the scripted model says twenty words: more than fits.
    short = media("wav", name="term-short.wav", clip="speech_b", duration_s=1.7)
    messages.append(
        ("term-short", upload_event("term-short", upload(service.bucket, "term-short", short)))
    )
    with running(service):
        wait_for_topics(service.bootstrap, list(service.topics.values()))
        publish(service.bootstrap, service.topics["video.uploaded"], messages)
        events = collect(
            service.bootstrap,
            [service.topics["captions.ready"], service.topics["captions.failed"]],
            lambda e: len(e) >= 3,
            timeout=120,
        )
        assert service.stop(signal.SIGTERM) == 0
    assert '"event": "stopped"' in service.log_text()
    assert {e["video_id"]: e["status"] for e in events} == dict.fromkeys(
        ("term-a", "term-b", "term-short"), "ready"
    ), events
    for track in next(e for e in events if e["video_id"] == "term-short")["tracks"]:
        if track["format"] == "vtt":  # every cue ends after it starts (read strictly)
            assert read_caption_file(s3_text(service.bucket, track["key"]).encode())


def test_burst_of_200_uploads_is_answered_with_bounded_memory(service: Service, media) -> None:  # type: ignore[no-untyped-def]
    # One sentence each: the burst is of uploads (200, in batches of 50), not of audio.
    path = media("wav", name="burst.wav", clip="speech_b", duration_s=2.6)
    source = upload(service.bucket, "burst", path)
    ids = [f"burst-{i:03d}" for i in range(200)]
    with running(service, "--max-batch-records", "50"):
        wait_for_topics(service.bootstrap, list(service.topics.values()))
        started = time.monotonic()
        publish(
            service.bootstrap,
            service.topics["video.uploaded"],
            [(v, upload_event(v, source)) for v in ids],
        )
        events = collect(
            service.bootstrap,
            [service.topics["captions.ready"], service.topics["captions.failed"]],
            lambda e: len(e) >= len(ids),
            timeout=400,
        )
        seconds = time.monotonic() - started
        assert service.process is not None
        status = Path(f"/proc/{service.process.pid}/status").read_text()
        peak_kib = int(
            next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
        )
    assert {e["video_id"] for e in events if e["status"] == "ready"} == set(ids)
    peak_mib = peak_kib / 1024
    print(f"burst: 200 uploads answered in {seconds:.1f} s, service peak RSS {peak_mib:.0f} MiB")
    assert peak_kib < 1536 * 1024


def test_the_unbounded_graph_runs_on_the_portable_runner(service: Service, media) -> None:  # type: ignore[no-untyped-def]
    """The Flink shape: one streaming pipeline over the unbounded source, drained when idle."""
    path = media("webm", name="unbounded.webm", clip="speech_b")
    good = ("u-good", upload_event("u-good", upload(service.bucket, "u-good", path)))
    gone = ("u-gone", upload_event("u-gone", f"s3://{service.bucket}/videos/u-gone/x.mp4"))
    publish(service.bootstrap, service.topics["video.uploaded"], [good, gone, ("u-bad", b"[]")])
    service.start(
        "--runner", "PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK",
        "--exit-when-idle", "4",
    )  # fmt: skip
    assert service.wait(timeout=240) == 0, service.log_text()[-3000:]
    events = collect(
        service.bootstrap, [service.topics["captions.ready"], service.topics["captions.failed"]],
        lambda e: len(e) >= 3, timeout=30,
    )  # fmt: skip
    answers = {e["_key"]: (e["status"], (e.get("error") or {}).get("code")) for e in events}
    assert answers == {
        "u-good": ("ready", None),
        "u-gone": ("failed", "source_not_found"),
        "u-bad": ("failed", "invalid_event"),
    }
