"""The library through the gateway, on a real S3 server and on a local folder, with the real
stream service, broker and Whisper weights: the list and its cursor, a delete for good (also
while the video is being transcribed, and against a replay of its upload event), private
videos and their playback tokens."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from connectors.media import ffmpeg_exe
from connectors.storage import open_store
from connectors.storage.layout import upload_key
from schemas.deletions import VideoDeleted
from tests.cli_process import run_cli
from tests.gateway_process import Gateway, fresh_storage, stream_and_gateway
from tests.paths import REALSPEECH
from tests.stream_service import Service, collect, publish

KEY = "library-key-" + uuid.uuid4().hex
AUTH = {"Authorization": f"Bearer {KEY}"}
SIGNING_KEY = "signing-" + uuid.uuid4().hex


@dataclass
class Stack:
    storage: str
    bucket: str
    service: Service
    gateway: Gateway
    client: httpx.Client

    def upload(self, video_id: str, path: Path, **params: str) -> None:
        answer = self.client.post(
            "/v1/videos",
            params={"video_id": video_id, "name": path.name, **params},
            content=path.read_bytes(),
            headers=AUTH,
        )
        assert answer.status_code == 202, answer.text

    def wait_for(self, video_id: str, status: str = "ready", timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            answer = self.client.get(f"/v1/videos/{video_id}", headers=AUTH)
            if answer.status_code == 200 and answer.json()["status"] == status:
                return
            time.sleep(0.3)
        raise AssertionError(f"{video_id} not {status}: {self.service.log_text()[-3000:]}")

    def stored_keys(self) -> list[str]:
        """Every key the storage holds."""
        if self.storage.startswith("s3://"):
            pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
            return sorted(o["Key"] for page in pages for o in page.get("Contents", []))
        root = Path(self.storage)
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    def listing(self, **params: Any) -> dict[str, Any]:
        answer = self.client.get("/v1/videos", params=params, headers=AUTH)
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module", params=["folder", "s3"])
def stack(
    request: pytest.FixtureRequest,
    bootstrap_servers: str,
    s3_endpoint: str,
    real_model: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    storage, bucket = fresh_storage(request.param, "lib", tmp_path_factory)
    prefix = f"lib{uuid.uuid4().hex[:6]}."
    processes = stream_and_gateway(
        bootstrap_servers, storage, real_model, prefix, KEY, bucket, "--signing-key", SIGNING_KEY
    )
    with processes as (service, gateway), httpx.Client(base_url=gateway.url, timeout=60) as client:
        yield Stack(storage, bucket, service, gateway, client)


@pytest.fixture(scope="module")
def long_talk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five times JFK's 11 s: a minute of speech, long enough to delete it mid-transcription."""
    out = tmp_path_factory.mktemp("long") / "long-talk.m4a"
    source = REALSPEECH / "jfk.flac"
    inputs = [arg for _ in range(5) for arg in ("-i", str(source))]
    graph = "".join(f"[{i}:a]" for i in range(5)) + "concat=n=5:v=0:a=1[a]"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", *inputs, "-filter_complex", graph, "-map", "[a]",
         "-c:a", "aac", "-b:a", "48k", str(out)],
        check=True,
    )  # fmt: skip
    return out


def test_the_list_needs_the_key_and_pages_newest_first_without_a_gap_or_a_repeat(
    stack: Stack,
) -> None:
    jfk = REALSPEECH / "jfk.flac"
    ids = [f"list-{i}" for i in range(4)]
    for video_id in ids:
        stack.upload(video_id, jfk)
    assert stack.client.get("/v1/videos").status_code == 401
    first = stack.listing(limit=2)
    assert [v["video_id"] for v in first["videos"]] == ["list-3", "list-2"]
    assert first["videos"][0]["name"] == "jfk.flac" and first["next_cursor"]
    stack.upload("list-late", jfk)  # an upload while a client pages
    seen = [v["video_id"] for v in first["videos"]]
    cursor = first["next_cursor"]
    while cursor:
        page = stack.listing(limit=2, cursor=cursor)
        seen += [v["video_id"] for v in page["videos"]]
        cursor = page["next_cursor"]
    assert [v for v in seen if v.startswith("list-")] == ["list-3", "list-2", "list-1", "list-0"]
    assert stack.listing(limit=1)["videos"][0]["video_id"] == "list-late"
    for video_id in [*ids, "list-late"]:
        stack.wait_for(video_id)
    video = next(v for v in stack.listing(q="jfk")["videos"] if v["video_id"] == "list-0")
    assert video["status"] == "ready" and video["language"] == "en"
    assert video["duration_s"] == pytest.approx(11.0, abs=0.5)
    assert video["languages"] == ["en"] and {t["format"] for t in video["tracks"]} >= {"vtt"}
    assert stack.listing(q="nothing-like-it")["videos"] == []
    assert all(v["status"] == "ready" for v in stack.listing(status="ready")["videos"])
    assert stack.client.get("/v1/videos", params={"cursor": "%%%"}, headers=AUTH).status_code == 400
    assert stack.client.get("/v1/videos", params={"status": "x"}, headers=AUTH).status_code == 400


def test_a_delete_leaves_only_a_tombstone_and_is_announced(stack: Stack) -> None:
    stack.upload("gone", REALSPEECH / "jfk.flac")
    stack.wait_for("gone")
    assert stack.client.delete("/v1/videos/gone").status_code == 401
    stale = stack.client.delete("/v1/videos/gone", headers={**AUTH, "If-Match": '"nope"'})
    assert stale.status_code == 412
    etag = stack.client.get("/v1/videos/gone", headers=AUTH).headers["etag"]
    started = time.perf_counter()
    answer = stack.client.delete("/v1/videos/gone", headers={**AUTH, "If-Match": etag})
    assert answer.status_code == 204, answer.text
    assert time.perf_counter() - started < 10
    assert [k for k in stack.stored_keys() if "gone" in k] == ["library/deleted/gone.json"]
    for path in ("", "/source", "/captions/en.vtt", "/transcript", "/captions"):
        assert stack.client.get(f"/v1/videos/gone{path}", headers=AUTH).status_code == 404
    assert "gone" not in [v["video_id"] for v in stack.listing(limit=100)["videos"]]
    again = stack.client.delete("/v1/videos/gone", headers=AUTH)  # a retry announces again
    assert again.status_code == 204
    assert stack.client.delete("/v1/videos/never-was", headers=AUTH).status_code == 404
    topic = stack.service.topics["video.deleted"]
    events = collect(stack.service.bootstrap, [topic], lambda e: len(e) >= 2, 30)
    deleted = [VideoDeleted.from_json(json.dumps({k: v for k, v in e.items() if k[0] != "_"}))
               for e in events if e["video_id"] == "gone"]  # fmt: skip
    assert len(deleted) == 2 and deleted[0].event_id == deleted[1].event_id


def test_a_video_deleted_while_it_is_transcribed_stays_deleted_even_when_its_event_is_replayed(
    stack: Stack, long_talk: Path
) -> None:
    stack.upload("mid", long_talk)
    deadline = time.monotonic() + 120
    while "captioning mid:" not in stack.service.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "captioning mid:" in stack.service.log_text()
    assert stack.client.delete("/v1/videos/mid", headers=AUTH).status_code == 204
    failed = stack.service.topics["captions.failed"]
    answers = collect(
        stack.service.bootstrap, [failed], lambda e: any(x["video_id"] == "mid" for x in e), 180
    )
    (answer,) = [a for a in answers if a["video_id"] == "mid"]
    assert answer["error"]["code"] == "video_deleted"
    assert "mid was deleted while it was captioned" in stack.service.log_text()
    assert [k for k in stack.stored_keys() if "mid" in k] == ["library/deleted/mid.json"]
    # the upload event again, as a replay after a consumer group reset brings it
    uploaded = stack.service.topics["video.uploaded"]
    events = collect(stack.service.bootstrap, [uploaded], lambda e: False, 5)
    (event,) = [e for e in events if e["video_id"] == "mid"]
    replay = json.dumps({k: v for k, v in event.items() if k[0] != "_"}).encode()
    publish(stack.service.bootstrap, uploaded, [("mid", replay)])
    answers = collect(
        stack.service.bootstrap,
        [failed],
        lambda e: sum(x["video_id"] == "mid" for x in e) >= 2,
        120,
    )
    assert [a["error"]["code"] for a in answers if a["video_id"] == "mid"] == ["video_deleted"] * 2
    assert [k for k in stack.stored_keys() if "mid" in k] == ["library/deleted/mid.json"]
    # the same id uploaded again is a new video
    stack.upload("mid", REALSPEECH / "jfk.flac")
    stack.wait_for("mid")
    assert stack.listing(limit=1)["videos"][0]["video_id"] == "mid"


def test_a_backfill_after_a_delete_captions_the_video_as_a_new_one(
    stack: Stack, real_model: Path, tmp_path: Path
) -> None:
    stack.upload("again", REALSPEECH / "jfk.flac")
    stack.wait_for("again")
    assert stack.client.delete("/v1/videos/again", headers=AUTH).status_code == 204
    # the file comes back into the library, as an import does, and a backfill runs over it
    source = open_store(stack.storage).put_file(
        upload_key("again", "jfk.flac"), REALSPEECH / "jfk.flac"
    )
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"video_id": "again", "source": source}) + "\n")
    result = run_cli(
        "backfill", "--manifest", str(rows), "--storage", stack.storage, "--model",
        str(real_model), "--skip-existing", "--report", str(tmp_path / "report.parquet"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    stack.wait_for("again", timeout_s=10)
    assert "again" in [v["video_id"] for v in stack.listing(q="jfk", limit=100)["videos"]]
    vtt = stack.client.get("/v1/videos/again/captions/en.vtt")
    assert "your country" in " ".join(vtt.text.lower().split())


def test_a_private_video_is_read_only_with_a_valid_token_and_never_cached_publicly(
    stack: Stack,
) -> None:
    stack.upload("secret", REALSPEECH / "jfk.flac", private="true")
    stack.wait_for("secret")
    (listed,) = [v for v in stack.listing(limit=100)["videos"] if v["video_id"] == "secret"]
    assert listed["private"] is True
    paths = ("", "/source", "/captions/en.vtt", "/captions/en.srt", "/transcript", "/captions",
             "/captions/en", "/captions/en/revisions", "/captions/en/revisions/1.vtt")  # fmt: skip
    for path in paths:  # a stranger: as if there were no such video
        answer = stack.client.get(f"/v1/videos/secret{path}")
        assert answer.status_code == 404, (path, answer.text)
    assert stack.client.post("/v1/videos/secret/token").status_code == 401
    issued = stack.client.post("/v1/videos/secret/token", json={"ttl_s": 60}, headers=AUTH)
    assert issued.status_code == 200, issued.text
    token = issued.json()["token"]
    for path in paths:
        answer = stack.client.get(f"/v1/videos/secret{path}", params={"token": token})
        assert answer.status_code == 200, (path, answer.text)
        cache = answer.headers["cache-control"]
        assert "public" not in cache and ("private" in cache or "no-store" in cache), (path, cache)
    vtt = stack.client.get("/v1/videos/secret/captions/en.vtt", params={"token": token})
    assert "your country can do for you" in " ".join(vtt.text.lower().split())
    bearer = stack.client.get("/v1/videos/secret", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200 and bearer.json()["private"] is True
    other = stack.client.post("/v1/videos/list-0/token", headers=AUTH).json()["token"]
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    short = stack.client.post("/v1/videos/secret/token", json={"ttl_s": 1}, headers=AUTH)
    time.sleep(3)  # past its expiry and the 1 s of leeway
    for bad in (other, tampered, short.json()["token"], "x.y.z"):
        assert (
            stack.client.get("/v1/videos/secret/source", params={"token": bad}).status_code == 404
        )
    public = stack.client.get("/v1/videos/list-0/captions/en.vtt")
    assert public.headers["cache-control"].startswith("public")
    bound = stack.client.post(
        "/v1/videos/secret/token", json={"origins": ["https://course.example"]}, headers=AUTH
    ).json()["token"]
    page = {"Origin": "https://course.example"}
    answer = stack.client.get("/v1/videos/secret/transcript", params={"token": bound}, headers=page)
    assert answer.status_code == 200
    elsewhere = {"Origin": "https://evil.example"}
    answer = stack.client.get(
        "/v1/videos/secret/transcript", params={"token": bound}, headers=elsewhere
    )
    assert answer.status_code == 404
