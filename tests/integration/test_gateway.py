"""`autocaption serve` over a real socket, with a real broker, a real S3 server and the real
stream service: the client here knows only HTTP (httpx, and http.client for raw paths)."""

from __future__ import annotations

import http.client
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest
import webvtt

from devtools.media import CLIP_TEXT
from devtools.scoring import score
from devtools.services import free_port
from tests.caption_rules import check_vtt_text
from tests.gateway_process import Gateway, serving
from tests.paths import REALSPEECH
from tests.stream_service import Service, running, wait_for_topics

KEY = "test-key-" + uuid.uuid4().hex
LIMIT = 1_000_000


@dataclass
class Stack:
    gateway: Gateway
    service: Service
    client: httpx.Client


@pytest.fixture(scope="module")
def stack(bootstrap_servers: str, s3_endpoint: str, real_model: Path) -> Iterator[Stack]:
    bucket = f"gw-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    prefix = f"gw{uuid.uuid4().hex[:6]}."
    service = Service(bootstrap_servers, bucket, real_model, prefix, f"g-{prefix}")
    gateway = Gateway(
        bootstrap_servers, f"s3://{bucket}", service.topics["video.uploaded"],
        "--api-key", f"old-key,{KEY}", "--max-upload-bytes", str(LIMIT),
    )  # fmt: skip
    with running(service), serving(gateway):
        wait_for_topics(bootstrap_servers, list(service.topics.values()))
        with httpx.Client(base_url=gateway.url, timeout=30) as client:
            yield Stack(gateway, service, client)


@pytest.fixture(scope="module")
def ready_video(stack: Stack, media) -> str:  # type: ignore[no-untyped-def]
    """A video uploaded through the gateway and captioned by the stream service."""
    body = media("webm").read_bytes()
    answer = stack.client.post(
        "/v1/videos",
        params={"video_id": "gw-talk", "name": "My talk.webm"},
        content=body,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "text/plain"},
    )
    assert answer.status_code == 202, answer.text
    assert answer.json() == {
        "video_id": "gw-talk",
        "status_url": f"{stack.gateway.url}/v1/videos/gw-talk",
    }
    status = _wait_ready(stack.client, "gw-talk", stack)
    assert status["source_url"] == f"{stack.gateway.url}/v1/videos/gw-talk/source"
    return "gw-talk"


def test_an_upload_with_a_vocabulary_is_heard_with_it(stack: Stack) -> None:
    answer = stack.client.post(
        "/v1/videos",
        params={"video_id": "gw-hotwords", "name": "hotwords.mp3", "hotwords": "ComfyUI"},
        content=(REALSPEECH / "hotwords.mp3").read_bytes(),
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert answer.status_code == 202, answer.text
    status = _wait_ready(stack.client, "gw-hotwords", stack)
    vtt = stack.client.get(status["tracks"][0]["url"]).text
    assert "ComfyUI" in _vtt_words(vtt), vtt


def _vtt_words(vtt: str) -> str:
    return " ".join(c.text.replace("\n", " ") for c in webvtt.from_string(vtt))


def _wait_ready(client: httpx.Client, video_id: str, stack: Stack, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    seen = set()
    while time.monotonic() < deadline:
        answer = client.get(f"/v1/videos/{video_id}")
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
        status = answer.json()
        seen.add(status["status"])
        if status["status"] != "processing":
            assert status["status"] == "ready", status
            return status
        time.sleep(0.3)
    raise AssertionError(
        f"not ready after {timeout_s} s (saw {seen}): {stack.service.log_text()[-2000:]}"
    )


def test_uploads_need_a_valid_api_key_checked_before_the_body(stack: Stack, media) -> None:  # type: ignore[no-untyped-def]
    body = media("webm").read_bytes()
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"X-API-Key": "nope"},
        {"Authorization": KEY},
    ):
        answer = stack.client.post("/v1/videos", content=body, headers=headers)
        assert answer.status_code == 401, headers
        assert answer.json()["error"]["code"] == "unauthorized"
        assert answer.headers["www-authenticate"] == "Bearer"
    # Both rotated keys work, through either header.
    answer = stack.client.post("/v1/videos", content=body, headers={"X-API-Key": "old-key"})
    assert answer.status_code == 202, answer.text
    assert answer.json()["video_id"].startswith("v")


def test_an_upload_is_captioned_and_its_captions_are_served_cacheably(
    stack: Stack, ready_video: str
) -> None:
    status = stack.client.get(f"/v1/videos/{ready_video}").json()
    base = f"{stack.gateway.url}/v1/videos/{ready_video}"
    assert status["tracks"] == [
        {"language": "en", "kind": "captions", "format": "vtt", "url": f"{base}/captions/en.vtt"},
        {"language": "en", "kind": "captions", "format": "srt", "url": f"{base}/captions/en.srt"},
        {"language": "en", "kind": "captions", "format": "ttml", "url": f"{base}/captions/en.ttml"},
    ]
    vtt = stack.client.get(status["tracks"][0]["url"])
    assert vtt.status_code == 200
    assert vtt.headers["content-type"] == "text/vtt; charset=utf-8"
    assert vtt.headers["cache-control"] == "public, max-age=60"
    assert vtt.headers["access-control-allow-origin"] == "*"
    etag = vtt.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert vtt.text.startswith("WEBVTT")
    assert check_vtt_text(vtt.text, None) == []
    heard = score(CLIP_TEXT["speech_a"], _vtt_words(vtt.text))
    assert heard.deletions == 0 and heard.wer <= 0.25, heard.show()
    again = stack.client.get(status["tracks"][0]["url"], headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    srt = stack.client.get(status["tracks"][1]["url"])
    assert srt.headers["content-type"] == "application/x-subrip; charset=utf-8"
    assert srt.text.startswith("1\n")
    assert stack.client.get(f"{base}/captions/fr.vtt").status_code == 404


def test_the_source_is_served_in_byte_ranges(stack: Stack, ready_video: str, media) -> None:  # type: ignore[no-untyped-def]
    body = media("webm").read_bytes()
    url = f"/v1/videos/{ready_video}/source"
    whole = stack.client.get(url)
    assert whole.status_code == 200 and whole.content == body
    assert whole.headers["content-type"] == "video/webm"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["cache-control"] == "public, max-age=86400"
    part = stack.client.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == body[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{len(body)}"
    assert part.headers["content-length"] == "100"
    tail = stack.client.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == body[-10:]
    beyond = stack.client.get(url, headers={"Range": f"bytes={len(body)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(body)}"
    assert beyond.json()["error"]["code"] == "range_not_satisfiable"
    cached = stack.client.get(url, headers={"If-None-Match": whole.headers["etag"]})
    assert cached.status_code == 304
    # The upload was stored under its sanitized name.
    keys = boto3.client("s3").list_objects_v2(Bucket=stack.service.bucket, Prefix="videos/gw-talk/")
    assert [o["Key"] for o in keys["Contents"]] == ["videos/gw-talk/My_talk.webm"]


def test_a_body_over_the_limit_is_refused_with_413(stack: Stack) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    announced = stack.client.post(
        "/v1/videos", content=b"\x1a\x45\xdf\xa3" + b"\0" * LIMIT, headers=auth
    )
    assert announced.status_code == 413
    assert announced.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is kept while streaming
        yield b"\x1a\x45\xdf\xa3webm" + b"\0" * 1000
        for _ in range(LIMIT // 65536 + 2):
            yield b"\0" * 65536

    streamed = stack.client.post("/v1/videos", content=chunks(), headers=auth)
    assert streamed.status_code == 413
    assert streamed.json()["error"]["code"] == "payload_too_large"


def test_a_body_that_is_not_audio_or_video_is_refused_with_415(stack: Stack) -> None:
    answer = stack.client.post(
        "/v1/videos",
        content=b"Hello, this is a plain text file and not a video.\n" * 20,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "video/mp4"},
    )
    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "unsupported_media_type"
    empty = stack.client.post("/v1/videos", content=b"", headers={"Authorization": f"Bearer {KEY}"})
    assert empty.status_code == 415


def test_bad_parameters_are_refused_before_the_body(stack: Stack, media) -> None:  # type: ignore[no-untyped-def]
    auth = {"Authorization": f"Bearer {KEY}"}
    for params in (
        {"video_id": "../x"},
        {"video_id": "a/b"},
        {"language": "english!"},
        {"hotwords": "x" * 501},
        {"initial_prompt": "   "},
    ):
        answer = stack.client.post("/v1/videos", params=params, content=b"x", headers=auth)
        assert answer.status_code == 400, params
        assert answer.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(
    "video_id",
    ["..%2F..%2Fetc%2Fpasswd", "../../etc/passwd", "%2e%2e", "a/../../b", "..", "%2e%2e%2f"],
)
@pytest.mark.parametrize(
    "route", ["", "/source", "/captions/en.vtt", "/captions/en.srt", "/captions/en.ttml"]
)
def test_ids_that_try_to_traverse_never_reach_a_file(
    stack: Stack, video_id: str, route: str
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", stack.gateway.port, timeout=10)
    try:  # http.client sends the path as written, without normalizing dot segments
        connection.request("GET", f"/v1/videos/{video_id}{route}")
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status in (400, 404), (video_id, route, response.status)
    assert response.getheader("content-type") == "application/json"
    assert b"root:" not in body


def test_an_unknown_video_is_404(stack: Stack) -> None:
    for path in ("/v1/videos/no-such-video", "/v1/videos/no-such-video/source",
                 "/v1/videos/no-such-video/captions/en.vtt",
                 "/v1/videos/no-such-video/captions"):  # fmt: skip
        answer = stack.client.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["error"]["code"] == "not_found"
    page = stack.client.get("/watch/no-such-video")  # the page itself says so, from the API
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")


def test_captions_answer_a_cors_preflight(stack: Stack) -> None:
    answer = stack.client.options(
        "/v1/videos/gw-talk/captions/en.vtt",
        headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"},
    )
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "GET" in answer.headers["access-control-allow-methods"]
    assert "Range" in answer.headers["access-control-allow-headers"]


def test_openapi_document_and_health(stack: Stack) -> None:
    assert stack.client.get("/healthz").json() == {"status": "ok"}
    paths = stack.client.get("/openapi.json").json()["paths"]
    video = "/v1/videos/{video_id}"
    routes = {"/v1/videos", video, f"{video}/source", f"{video}/captions/{{lang}}.{{fmt}}",
              f"{video}/captions", f"{video}/captions/{{lang}}",
              f"{video}/captions/{{lang}}/generate", f"{video}/captions/{{lang}}/revisions",
              f"{video}/transcript", "/", "/watch/{video_id}", "/v1/info", "/healthz"}  # fmt: skip
    assert routes <= set(paths)
    assert "post" in paths["/v1/videos"]


def test_request_lines_are_logged_as_json(stack: Stack) -> None:
    stack.client.get("/healthz")
    lines = [line for line in stack.gateway.log_text().splitlines() if '"path": "/healthz"' in line]
    assert lines and '"status": 200' in lines[-1] and '"duration_ms"' in lines[-1]


def test_a_broker_that_is_down_answers_503(s3_endpoint: str, media) -> None:  # type: ignore[no-untyped-def]
    bucket = f"gw-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    gateway = Gateway(
        f"127.0.0.1:{free_port()}", f"s3://{bucket}", "video.uploaded",
        "--kafka-option", "message.timeout.ms=1500",
    )  # fmt: skip
    with serving(gateway), httpx.Client(base_url=gateway.url, timeout=30) as client:
        answer = client.post("/v1/videos", content=media("webm").read_bytes())
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "unavailable"
    assert "Traceback" not in gateway.log_text()
    assert gateway.stop() == 0  # serving() sent SIGTERM: a graceful exit
