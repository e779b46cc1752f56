"""The pages in a real headless Chromium (Debian's, driven by Playwright), over the real stack:
`autocaption serve` and `autocaption stream` on one local folder (the embedded default), a real
Kafka broker and the real Whisper weights.

The whole loop a reviewer goes through: upload through `/` with the progress shown, the watch
page plays and its transcript panel follows playback, a cue edited and saved persists after a
reload, a save that conflicts with someone else's says so, and cue text holding markup stays
text (never runs) in the panel and the editor; the home page lists the library, and a private
upload plays on its page with a token while a stranger is told there is no such video.
Screenshots of the pages at laptop and phone width go to `test-artifacts/`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.gateway_process import stream_and_gateway
from tests.paths import REALSPEECH

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
KEY = "pages-" + uuid.uuid4().hex
LAPTOP = {"width": 1366, "height": 820}
PHONE = {"width": 390, "height": 844}
MARKUP = '<img src=x onerror="window.__ran = 1"> <script>window.__ran = 2</script>'


@dataclass
class Site:
    url: str
    browser: Browser
    problems: list[str]

    def page(self, viewport: dict[str, int] = LAPTOP) -> Page:
        page = self.browser.new_page(viewport=viewport)  # type: ignore[arg-type]
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("dialog", lambda dialog: (self.problems.append(f"dialog: {dialog.message}"),
                                          dialog.dismiss()))  # fmt: skip
        return page


@pytest.fixture(scope="module")
def site(
    bootstrap_servers: str, real_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    storage = str(tmp_path_factory.mktemp("site"))
    prefix = f"pg{uuid.uuid4().hex[:6]}."
    processes = stream_and_gateway(
        bootstrap_servers, storage, real_model, prefix, KEY, "", "--signing-key", "k" * 40
    )
    with processes as (_, gateway), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            ARTIFACTS.mkdir(exist_ok=True)
            yield Site(gateway.url, browser, [])
        finally:
            browser.close()


@pytest.fixture(scope="module")
def watch_url(site: Site) -> str:
    """A French recording uploaded through the upload page, with English subtitles asked for."""
    page = site.page()
    page.goto(f"{site.url}/")
    page.wait_for_selector("#language option[value='fr']", state="attached")
    assert page.locator("#key-field").is_visible()  # this gateway asks for a key
    _assert_accessible(page)
    _screenshot(page, "upload")
    page.set_input_files("#file", str(REALSPEECH / "ej-fra.m4a"))
    assert "ej-fra.m4a" in page.locator("#file-info").inner_text()
    page.select_option("#language", "fr")
    page.check("#translate-en")
    page.check("#translate-pt-BR")  # through Whisper's English
    page.fill("#api_key", KEY)
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url("**/watch/*", timeout=60_000)
    url = page.url
    page.close()
    return url


def test_the_upload_page_shows_the_bytes_sent_then_opens_the_watch_page(site: Site) -> None:
    page = site.page()
    page.goto(f"{site.url}/")
    page.wait_for_selector("#language option[value='fr']", state="attached")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 40_000},
    )
    page.set_input_files("#file", str(REALSPEECH / "hotwords.mp3"))
    page.fill("#api_key", KEY)
    page.get_by_role("button", name="Upload").click()
    seen: list[tuple[int, str]] = []
    while "/watch/" not in page.url:  # poll the bar while the upload runs
        try:
            bar = page.evaluate(
                "(() => { const p = document.getElementById('progress');"
                " return p && [p.value, document.getElementById('progress-text').textContent]; })()"
            )
        except Exception:  # the page is navigating away: the upload is done
            break
        if bar:
            seen.append((int(bar[0]), bar[1]))
        time.sleep(0.05)
    page.wait_for_url("**/watch/*", timeout=60_000)
    partial = [text for value, text in seen if 0 < value < 100]
    assert partial, seen
    assert " of " in partial[0] and "sent" in partial[0]
    page.close()


def test_refused_uploads_are_explained_in_the_page(site: Site, tmp_path: Path) -> None:
    page = site.page()
    page.goto(f"{site.url}/")
    page.wait_for_selector("#language option[value='fr']", state="attached")
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n" * 100)
    page.set_input_files("#file", str(text))
    assert "not a video or audio file" in page.locator("#error").inner_text()
    page.set_input_files("#file", str(REALSPEECH / "jfk.flac"))
    page.fill("#api_key", "wrong-key")
    page.get_by_role("button", name="Upload").click()
    _wait(page, "!document.getElementById('error').hidden")
    assert page.locator("#error").inner_text() == "The API key was not accepted."
    page.close()


def test_the_watch_page_plays_and_its_transcript_follows(site: Site, watch_url: str) -> None:
    page = site.page()
    page.goto(watch_url)
    _wait_for_cues(page)
    assert page.locator("h1").inner_text() == "ej-fra.m4a"
    assert page.title().startswith("ej-fra.m4a")
    labels = page.locator("#language option").all_inner_texts()
    assert labels == [
        "Off",
        "Français",
        "English (translation)",
        "Português (Brasil) (translation)",
    ]
    modes = page.evaluate(
        "Array.from(document.querySelector('video').textTracks).map(t => [t.language, t.mode])"
    )
    assert modes == [["fr", "showing"], ["en", "disabled"], ["pt-BR", "disabled"]]
    assert page.locator("#download-vtt").get_attribute("href").endswith("/captions/fr.vtt")
    assert page.locator("#downloads a").all_inner_texts() == ["WebVTT", "SRT", "TTML"]
    assert page.locator("#cues mark").count() > 0  # words the model was unsure of
    # Play from the third cue: it becomes the active one, then playback moves the highlight on.
    page.evaluate("document.querySelector('video').muted = true")
    page.evaluate("document.querySelector('video').playbackRate = 2")
    page.locator('#cues [data-cue="2"] .time').click()
    page.wait_for_selector('#cues [data-cue="2"].active', timeout=15_000)
    page.wait_for_selector('#cues [data-cue="3"].active', timeout=30_000)
    assert page.locator("#cues .active").count() == 1
    assert page.evaluate("document.querySelector('video').currentTime") > 0
    page.evaluate("document.querySelector('video').pause()")
    _assert_accessible(page)
    _screenshot(page, "watch")
    page.select_option("#language", label="English (translation)")
    _wait(page, "document.getElementById('panel-title').textContent.includes('English')")
    _wait_for_cues(page)
    assert "my name is" in page.locator("#cues").inner_text().lower()
    page.select_option("#language", label="Português (Brasil) (translation)")
    _wait(page, "document.getElementById('panel-title').textContent.includes('Português')")
    _wait_for_cues(page)
    assert "meu nome" in page.locator("#cues").inner_text().lower()
    meta = page.locator("#panel-meta").inner_text()
    assert "translated from Français (revision 1) through English" in meta
    assert "by Whisper, then Firefox Translations" in meta
    _assert_accessible(page)
    _screenshot(page, "watch-translation")
    page.close()


def test_an_edited_cue_persists_and_markup_stays_text(site: Site, watch_url: str) -> None:
    page = site.page()
    page.goto(watch_url)
    _wait_for_cues(page)
    page.get_by_role("button", name="Edit captions").click()
    page.fill("input[name='api_key']", KEY)
    row = page.locator('#cues [data-cue="0"]')
    row.locator("textarea").fill(f"Bonjour, je m'appelle Éric.\n{MARKUP}")
    row.locator("input[name='end']").fill("0:02.500")
    warnings = row.locator(".warnings").inner_text()
    assert "characters" in warnings  # the second line is over 42 characters: a warning
    _assert_accessible(page)
    _screenshot(page, "editor")
    page.get_by_role("button", name="Save", exact=True).click()
    _wait(page, "document.getElementById('save-status').textContent.includes('Saved')")
    assert page.locator("#save-status").inner_text() == "Saved as revision 2."
    assert page.locator('#cues [data-cue="0"] textarea').input_value().endswith(MARKUP)

    page.reload()
    _wait_for_cues(page)
    first = page.locator('#cues [data-cue="0"] .text')
    assert first.inner_text() == f"Bonjour, je m'appelle Éric.\n{MARKUP}"
    assert page.locator("#cues img, #cues script").count() == 0
    assert page.evaluate("window.__ran === undefined")
    assert "edited by a person" in page.locator("#panel-meta").inner_text()
    page.get_by_role("button", name="Edit captions").click()
    assert page.locator('#cues [data-cue="0"] textarea').input_value().endswith(MARKUP)
    assert page.evaluate("window.__ran === undefined")
    assert site.problems == []
    page.close()


def test_a_save_after_someone_elses_says_so_and_offers_their_version(
    site: Site, watch_url: str
) -> None:
    page = site.page()
    page.goto(watch_url)
    _wait_for_cues(page)
    page.get_by_role("button", name="Edit captions").click()
    page.fill("input[name='api_key']", KEY)
    page.locator('#cues [data-cue="1"] textarea').fill("My edit, saved second.")
    # Meanwhile someone else saves the track.
    api = f"{watch_url.replace('/watch/', '/v1/videos/')}/captions/fr"
    etag = httpx.get(api).json()["etag"]
    theirs = "WEBVTT\n\n00:00:00.700 --> 00:00:03.000\nTheir version, saved first.\n"
    answer = httpx.put(
        api, content=theirs, headers={"Authorization": f"Bearer {KEY}", "If-Match": f'"{etag}"'}
    )
    assert answer.status_code == 200, answer.text
    page.get_by_role("button", name="Save", exact=True).click()
    conflict = page.locator("#conflict")
    conflict.wait_for(state="visible")
    assert "Someone else saved this track" in conflict.inner_text()
    _screenshot(page, "conflict", phone=False)
    page.get_by_role("button", name="Load their version").click()
    _wait(
        page,
        "document.querySelector('#cues [data-cue=\"0\"] textarea')?.value"
        " === 'Their version, saved first.'",
    )
    assert page.locator("#cues li.cue").count() == 1
    page.close()


def test_a_persons_markup_shows_in_the_panel_and_survives_the_editor(
    site: Site, watch_url: str
) -> None:
    api = f"{watch_url.replace('/watch/', '/v1/videos/')}/captions/fr"
    etag = httpx.get(api).json()["etag"]
    theirs = (
        "WEBVTT\n\n00:00:00.700 --> 00:00:03.000\n<i>Italic words</i> and <b>bold</b>\n\n"
        "00:00:03.200 --> 00:00:05.000\n<v Roger Bingham>We are in New York City\n"
    )
    answer = httpx.put(
        api, content=theirs, headers={"Authorization": f"Bearer {KEY}", "If-Match": f'"{etag}"'}
    )
    assert answer.status_code == 200, answer.text
    page = site.page()
    page.goto(watch_url)
    _wait_for_cues(page)
    first = page.locator('#cues [data-cue="0"] .text')
    assert first.inner_text() == "Italic words and bold"
    assert first.locator("i").inner_text() == "Italic words"
    assert first.locator("b").inner_text() == "bold"
    _assert_accessible(page)
    _screenshot(page, "markup", phone=False)
    page.get_by_role("button", name="Edit captions").click()
    page.fill("input[name='api_key']", KEY)
    assert page.locator('#cues [data-cue="0"] textarea').input_value() == (
        "<i>Italic words</i> and <b>bold</b>"
    )
    second = page.locator('#cues [data-cue="1"] textarea')
    assert second.input_value() == "<v Roger Bingham>We are in New York City</v>"
    # 36 characters shown: the voice's tag does not count against the 42 a line.
    assert "characters" not in page.locator('#cues [data-cue="1"] .warnings').inner_text()
    second.fill("<v Roger Bingham>We are in <i>New York</i> City</v>")
    page.get_by_role("button", name="Save", exact=True).click()
    _wait(page, "document.getElementById('save-status').textContent.includes('Saved')")
    vtt = httpx.get(f"{api}.vtt").text
    assert "<i>Italic words</i> and <b>bold</b>" in vtt
    assert "<v Roger Bingham>We are in <i>New York</i> City</v>" in vtt
    assert site.problems == []
    page.close()


def test_a_private_upload_plays_with_a_token_and_the_home_page_lists_the_library(
    site: Site, watch_url: str
) -> None:
    page = site.page()
    page.goto(f"{site.url}/")
    page.wait_for_selector("#language option[value='fr']", state="attached")
    assert "API key" in page.locator("#library-note").inner_text()  # the list needs the key
    page.fill("#api_key", KEY)
    page.locator("#api_key").dispatch_event("change")
    page.wait_for_selector("#videos li a")
    page.set_input_files("#file", str(REALSPEECH / "jfk.flac"))
    page.check("#private")
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url("**/watch/*", timeout=60_000)
    _wait(page, "document.querySelector('video').src.includes('token=')")
    _wait(page, "document.querySelector('video').readyState >= 1", 60)  # the player reads it
    _wait_for_cues(page)
    assert "country" in page.locator("#cues").inner_text()
    _wait(page, "[...document.querySelectorAll('track')].some(t => t.src.includes('token='))")
    private_url = page.url
    page.close()
    stranger = site.page()  # no key in this tab, no token in the link
    stranger.goto(private_url)
    _wait(stranger, "document.querySelector('h1').textContent === 'No such video'")
    stranger.close()
    home = site.page()
    home.goto(f"{site.url}/")
    home.fill("#api_key", KEY)
    home.locator("#api_key").dispatch_event("change")
    home.wait_for_selector("#videos li .badge.private")
    first = home.locator("#videos li").first
    assert "jfk.flac" in first.inner_text() and "Private" in first.inner_text()
    assert "Ready" in first.inner_text() and "en" in first.inner_text()
    assert home.locator("#videos li").count() >= 3
    home.fill("#q", "ej-fra")
    _wait(home, "document.querySelectorAll('#videos li').length === 1")
    assert "ej-fra.m4a" in home.locator("#videos li").inner_text()
    home.fill("#q", "")
    _wait(home, "document.querySelectorAll('#videos li').length >= 3")
    _assert_accessible(home)
    _screenshot(home, "library")
    home.set_viewport_size(PHONE)
    _assert_accessible(home)
    home.close()


JFK_WRITTEN = (
    "And so, my fellow Americans: ask not what your country can do for you — ask what you can "
    "do for your country."
)


def test_an_upload_with_its_transcript_shows_exactly_those_words(
    site: Site, tmp_path: Path
) -> None:
    script = tmp_path / "jfk.txt"
    script.write_text(JFK_WRITTEN + "\n", encoding="utf-8")
    page = site.page()
    page.goto(f"{site.url}/")
    page.wait_for_selector("#language option[value='en']", state="attached")
    page.set_input_files("#file", str(REALSPEECH / "jfk.flac"))
    page.set_input_files("#transcript", str(script))
    page.select_option("#language", "en")
    page.fill("#api_key", KEY)
    _assert_accessible(page)
    _screenshot(page, "upload-transcript")
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url("**/watch/*", timeout=60_000)
    _wait_for_cues(page)
    shown = " ".join(page.locator("#cues .text").all_inner_texts()).split()
    assert shown == JFK_WRITTEN.split()
    meta = page.locator("#panel-meta").inner_text()
    assert "a person's words timed to the speech (23 aligned, 0 with no speech)" in meta
    _assert_accessible(page)
    assert site.problems == []
    page.close()


def test_re_time_a_changed_cue_then_a_pasted_script_and_the_panel_follows(site: Site) -> None:
    with httpx.Client(base_url=site.url, timeout=60) as client:
        upload = client.post(
            "/v1/videos",
            params={"video_id": "jfk-retime", "name": "jfk.flac"},
            content=(REALSPEECH / "jfk.flac").read_bytes(),
            headers={"Authorization": f"Bearer {KEY}"},
        )
        assert upload.status_code == 202, upload.text
    page = site.page()
    page.goto(f"{site.url}/watch/jfk-retime")
    _wait_for_cues(page)
    page.get_by_role("button", name="Edit captions").click()
    page.fill("input[name='api_key']", KEY)
    row = page.locator('#cues [data-cue="0"]')
    text = row.locator("textarea")
    typed = text.input_value().replace("Americans", "AMERICANS")
    text.fill(typed)
    count = page.locator("#cues li.cue").count()
    row.get_by_role("button", name="Re-time (cue 1 and its neighbours)").click()
    _wait(page, "document.getElementById('save-status').textContent.includes('Re-timed')", 180)
    status = page.locator("#save-status").inner_text()
    assert status.startswith("Re-timed as revision 2: ") and "0 with no speech" in status
    assert page.locator('#cues [data-cue="0"] textarea').input_value() == typed  # cues kept
    assert page.locator("#cues li.cue").count() == count
    _assert_accessible(page)
    _screenshot(page, "editor-retimed")

    page.locator("#script-box summary").click()
    page.fill("#script", JFK_WRITTEN)
    _assert_accessible(page)
    page.get_by_role("button", name="Re-time all").click()
    _wait(page, "document.getElementById('save-status').textContent.includes('revision 3')", 180)
    page.get_by_role("button", name="Done").click()
    page.wait_for_selector("#cues li.cue .text", timeout=30_000)  # the panel, not the editor
    shown = " ".join(page.locator("#cues .text").all_inner_texts()).split()
    assert shown == JFK_WRITTEN.split()
    meta = page.locator("#panel-meta").inner_text()
    assert "a person's words timed to the speech (23 aligned, 0 with no speech)" in meta
    # the highlight follows the new times: "country." is said at about 10 s
    last = page.locator("#cues li.cue").count() - 1
    page.evaluate("document.querySelector('video').muted = true")
    page.evaluate("document.querySelector('video').currentTime = 9.9")
    page.wait_for_selector(f'#cues [data-cue="{last}"].active', timeout=15_000)
    assert "country." in page.locator("#cues .active").inner_text()
    _assert_accessible(page)
    _screenshot(page, "watch-retimed")
    assert site.problems == []
    page.close()


def test_pages_send_a_strict_content_security_policy(site: Site) -> None:
    for path in ("/", "/watch/anything", "/static/watch.js"):
        answer = httpx.get(f"{site.url}{path}")
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert "unsafe" not in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["etag"]


def _wait(page: Page, condition: str, timeout_s: float = 30) -> None:
    """Wait until the expression `condition` is true in the page. (Polled from here: the
    pages' Content-Security-Policy forbids the string evaluation `wait_for_function` uses.)"""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(condition):
        assert time.monotonic() < deadline, f"never true: {condition}"
        time.sleep(0.05)


def _assert_accessible(page: Page) -> None:
    """axe-core's WCAG 2.1 A and AA rules find no violation in the page as it is now. (axe is
    evaluated through the DevTools protocol, which the page's CSP does not govern; the page
    itself still runs under its CSP.)"""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    options = json.dumps({"runOnly": {"type": "tag", "values": WCAG_21_AA}})
    found = page.evaluate(
        f"axe.run(document, {options}).then(r => r.violations"
        ".map(v => [v.id, v.help, v.nodes.map(n => n.target.join(' '))]))"
    )
    assert found == [], found


def _wait_for_cues(page: Page) -> None:
    page.wait_for_selector("#cues li.cue", timeout=120_000)


def _screenshot(page: Page, name: str, phone: bool = True) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}-laptop.png"), full_page=True)
    if phone:
        size = page.viewport_size
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
        if size:
            page.set_viewport_size(size)
