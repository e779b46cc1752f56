"""`/watch/{id}` in a real headless Chromium (Debian's, driven by Playwright): the page plays
an upload with every caption track, says while captions are being made, and switches language
from its menu. Everything behind it is real: gateway, stream service, broker, S3 server."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from tests.fixtures.media import DATA_DIR
from tests.gateway_process import Gateway, serving
from tests.stream_service import Service, running, wait_for_topics

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

CUES_LOADED = """index => {
  const track = document.querySelector("video").textTracks[index];
  return !!track && track.mode === "showing" && !!track.cues && track.cues.length > 0;
}"""
TRACK_STATE = """() => Array.from(document.querySelector("video").textTracks).map(t => ({
  language: t.language, kind: t.kind, mode: t.mode,
  cues: t.cues ? Array.from(t.cues).map(c => c.text) : null}))"""


def test_watch_page_plays_captions_and_switches_language(
    bootstrap_servers: str, bucket: str, real_model: Path, topic_prefix: str
) -> None:
    key = uuid.uuid4().hex
    service = Service(bootstrap_servers, bucket, real_model, topic_prefix, f"g-{key[:8]}")
    gateway = Gateway(
        bootstrap_servers, f"s3://{bucket}", service.topics["video.uploaded"], "--api-key", key
    )
    with running(service), serving(gateway):
        wait_for_topics(bootstrap_servers, list(service.topics.values()))
        answer = httpx.post(
            f"{gateway.url}/v1/videos",
            params={"language": "fr", "translate_to": "en", "video_id": "watch-me"},
            content=(DATA_DIR / "realspeech" / "ej-fra.m4a").read_bytes(),
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert answer.status_code == 202, answer.text
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--headless", "--no-sandbox", "--disable-gpu",
                      "--disable-background-networking"],
            )  # fmt: skip
            try:
                page = browser.new_page()
                problems: list[str] = []
                page.on("pageerror", lambda error: problems.append(str(error)))
                started = time.monotonic()
                page.goto(f"{gateway.url}/watch/watch-me")
                notice = page.locator("#notice")
                processing = not page.evaluate("document.querySelector('video').textTracks.length")
                if processing:  # the usual case: the stream service needs a few seconds
                    assert notice.is_visible()
                    assert "Captions are being made" in notice.inner_text()
                page.wait_for_function(CUES_LOADED, arg=0, timeout=90_000)
                seconds = time.monotonic() - started
                tracks = page.evaluate(TRACK_STATE)
                assert [(t["language"], t["kind"]) for t in tracks] == [
                    ("fr", "captions"),
                    ("en", "subtitles"),
                ]
                assert tracks[0]["mode"] == "showing" and tracks[1]["mode"] == "disabled"
                assert _shows(tracks[0]["cues"], "m'appelle")
                assert notice.is_hidden()

                page.select_option("#language", label="en (translation)")
                page.wait_for_function(CUES_LOADED, arg=1, timeout=30_000)
                tracks = page.evaluate(TRACK_STATE)
                assert [t["mode"] for t in tracks] == ["disabled", "showing"]
                assert _shows(tracks[1]["cues"], "my name is")
                assert page.locator("video").get_attribute("crossorigin") == "anonymous"
                assert problems == []
                page.evaluate(  # a frame with a caption on it for the screenshot
                    "() => { const v = document.querySelector('video');"
                    " v.currentTime = v.textTracks[1].cues[0].startTime + 0.3; }"
                )
                page.wait_for_function("document.querySelector('video').readyState >= 2")
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "watch.png"))
                print(f"watch page: notice seen: {processing}; captions after {seconds:.1f} s")
            finally:
                browser.close()


def _shows(cues: list[str] | None, words: str) -> bool:
    """Whether the track's cues, joined, say `words` (the model's French, or its English)."""
    return bool(cues) and words in " ".join(c.replace("\n", " ") for c in cues).lower()
