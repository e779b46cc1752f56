"""The captions API over real sockets: `autocaption serve` and `autocaption stream` with the real
Whisper weights, a real Kafka broker, and storage that is a real S3 server or a local folder
(the embedded default: `serve` and `stream` on one folder, no --file-root).

Each rule of the API is checked on both kinds of storage: listing, reading, replacing with
If-Match (428, 412), adding a language with If-None-Match, strict parsing with line numbers,
size and media-length limits, racing saves (exactly one lands), revisions kept and readable,
deletion, and the `captions.updated` events. Then a wrong-language track is made again with the
real weights, and a person's revision survives a track made again over it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from captions.rules import CaptionRules
from connectors.storage import open_store
from schemas.updates import CaptionsUpdated
from tests.caption_rules import check_vtt_text
from tests.gateway_process import Gateway, fresh_storage, stream_and_gateway
from tests.paths import REALSPEECH
from tests.stream_service import Service, collect
from tests.ttml_reader import assert_ttml_matches_vtt

KEY = "captions-key-" + uuid.uuid4().hex
AUTH = {"Authorization": f"Bearer {KEY}"}


@dataclass
class Stack:
    storage: str
    service: Service
    gateway: Gateway
    client: httpx.Client

    def wait_ready(self, video_id: str, timeout_s: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.client.get(f"/v1/videos/{video_id}").json()
            if status.get("status") == "ready":
                return status
            assert status.get("status") in ("processing", None), status
            time.sleep(0.3)
        raise AssertionError(f"{video_id} not ready: {self.service.log_text()[-3000:]}")

    def upload(self, video_id: str, path: Path, **params: str) -> dict[str, Any]:
        answer = self.client.post(
            "/v1/videos",
            params={"video_id": video_id, "name": path.name, **params},
            content=path.read_bytes(),
            headers=AUTH,
        )
        assert answer.status_code == 202, answer.text
        return self.wait_ready(video_id)

    def track(self, video_id: str, lang: str) -> dict[str, Any]:
        answer = self.client.get(f"/v1/videos/{video_id}/captions/{lang}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def put(self, video_id: str, lang: str, body: str | bytes, **headers: str) -> httpx.Response:
        return self.client.put(
            f"/v1/videos/{video_id}/captions/{lang}",
            content=body.encode() if isinstance(body, str) else body,
            headers={**AUTH, **{k.replace("_", "-"): v for k, v in headers.items()}},
        )


@pytest.fixture(scope="module", params=["folder", "s3"])
def stack(
    request: pytest.FixtureRequest,
    bootstrap_servers: str,
    s3_endpoint: str,
    real_model: Path,
    tmp_path_factory: pytest.TempPathFactory,
    media,  # type: ignore[no-untyped-def]
) -> Iterator[Stack]:
    storage, bucket = fresh_storage(request.param, "cap", tmp_path_factory)
    prefix = f"cap{uuid.uuid4().hex[:6]}."
    processes = stream_and_gateway(bootstrap_servers, storage, real_model, prefix, KEY, bucket)
    with processes as (service, gateway), httpx.Client(base_url=gateway.url, timeout=60) as client:
        stack = Stack(storage, service, gateway, client)
        stack.upload("talk", media("webm"))
        yield stack


VTT = (
    "WEBVTT\n\n00:00:00.500 --> 00:00:02.000\n{text}\n\n00:00:02.200 --> 00:00:03.500\nsecond cue\n"
)


def test_the_list_shows_each_track_with_its_native_label_and_etag(stack: Stack) -> None:
    answer = stack.client.get("/v1/videos/talk/captions")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    (entry,) = [c for c in answer.json()["captions"] if c["language"] == "en"]
    assert entry["label"] == "English" and entry["kind"] == "captions"
    assert entry["generated"] is True and entry["status"] == "ready" and entry["revision"] >= 1
    vtt = stack.client.get(entry["urls"]["vtt"])
    assert vtt.status_code == 200 and vtt.headers["etag"] == f'"{entry["etag"]}"'
    assert vtt.headers["cache-control"] == "public, max-age=60"
    assert stack.client.get(entry["urls"]["srt"]).text.startswith("1\n")
    assert set(entry["urls"]) == {"vtt", "srt", "ttml"}
    ttml = stack.client.get(entry["urls"]["ttml"])
    assert ttml.headers["content-type"] == "application/ttml+xml; charset=utf-8"
    assert_ttml_matches_vtt(ttml.text, vtt.text, "en")
    assert check_vtt_text(vtt.text, None) == []  # the model's track, W3C-valid
    document = stack.track("talk", "en")
    assert document["cues"] and document["rules"]["max_chars_per_line"] == 42
    assert all(c["end"] > c["start"] for c in document["cues"])


def test_replacing_a_track_needs_its_current_etag(stack: Stack) -> None:
    before = stack.track("talk", "en")
    missing = stack.put("talk", "en", VTT.format(text="no precondition"))
    assert missing.status_code == 428
    assert missing.json()["error"]["code"] == "precondition_required"
    stale = stack.put("talk", "en", VTT.format(text="stale"), If_Match='"not-the-etag"')
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "precondition_failed"

    saved = stack.put("talk", "en", VTT.format(text="Corrected & checked"),
                      If_Match=f'"{before["etag"]}"')  # fmt: skip
    assert saved.status_code == 200, saved.text
    entry = saved.json()
    assert entry["generated"] is False and entry["revision"] == before["revision"] + 1
    assert saved.headers["etag"] == f'"{entry["etag"]}"' != f'"{before["etag"]}"'
    # Both formats were written anew by our own writers.
    vtt = stack.client.get(entry["urls"]["vtt"]).text
    assert "Corrected &amp; checked" in vtt and "NOTE autocaption revision=" in vtt
    srt = stack.client.get(entry["urls"]["srt"]).text
    assert srt.startswith("1\n00:00:00,500 --> 00:00:02,000\nCorrected & checked\n")
    # The previous revision is kept and readable; the list marks the current one.
    revisions = stack.client.get("/v1/videos/talk/captions/en/revisions").json()["revisions"]
    assert [r["current"] for r in revisions][-2:] == [False, True]
    assert [r["generated"] for r in revisions][-2:] == [True, False]
    old = stack.client.get(revisions[-2]["url"])
    assert old.status_code == 200 and "Corrected" not in old.text
    assert "immutable" in old.headers["cache-control"]
    # The manifest's track entry follows.
    manifest = json.loads(open_store(stack.storage).get_bytes("captions/talk/manifest.json"))
    (vtt_entry,) = [t for t in manifest["tracks"] if t["format"] == "vtt" and t["language"] == "en"]
    assert vtt_entry["generated"] is False and vtt_entry["revision"] == entry["revision"]
    # The status document and the player see the same track.
    status = stack.client.get("/v1/videos/talk").json()
    assert {(t["language"], t["format"]) for t in status["tracks"]} >= {
        ("en", "vtt"),
        ("en", "srt"),
    }


MARKUP = (
    "WEBVTT\n\n00:00:00.500 --> 00:00:02.000\n<i>Italic words</i> and <b>bold</b>\n\n"
    "00:00:02.200 --> 00:00:03.500\n<v Roger Bingham>We are in New York City\n"
)


def test_a_persons_markup_survives_a_save_in_every_format(stack: Stack) -> None:
    saved = stack.put("talk", "en-GB", MARKUP, If_None_Match="*")
    assert saved.status_code == 201, saved.text
    urls = saved.json()["urls"]
    vtt = stack.client.get(urls["vtt"]).text
    assert "<i>Italic words</i> and <b>bold</b>" in vtt
    assert "<v Roger Bingham>We are in New York City</v>" in vtt
    assert check_vtt_text(vtt, None, CaptionRules(min_duration_s=0.5)) == []  # the W3C's too
    assert "<i>Italic words</i> and <b>bold</b>" in stack.client.get(urls["srt"]).text
    ttml = stack.client.get(urls["ttml"]).text
    track = assert_ttml_matches_vtt(ttml, vtt, "en-GB")
    assert track.cues[0].styled == {"italic": {"Italic words"}, "bold": {"bold"}}
    assert 'ttm:agent="voice1"' in ttml and ">Roger Bingham</ttm:name>" in ttml
    cues = stack.track("talk", "en-GB")["cues"]
    assert [c["text"] for c in cues] == ["Italic words and bold", "We are in New York City"]
    assert [c["markup"] for c in cues] == [
        "<i>Italic words</i> and <b>bold</b>",
        "<v Roger Bingham>We are in New York City</v>",
    ]
    # A kept revision is served in every format too.
    (revision,) = stack.client.get("/v1/videos/talk/captions/en-GB/revisions").json()["revisions"]
    kept = stack.client.get(revision["url"].replace(".vtt", ".ttml"))
    assert kept.status_code == 200 and "immutable" in kept.headers["cache-control"]
    assert_ttml_matches_vtt(kept.text, vtt, "en-GB")
    assert stack.client.get(revision["url"].replace(".vtt", ".doc")).status_code == 404
    # Language codes take a region, in any case, one rule everywhere.
    assert stack.client.get("/v1/videos/talk/captions/EN-gb.srt").text.startswith("1\n")


def test_a_track_stored_before_its_format_existed_is_served_in_it(stack: Stack) -> None:
    open_store(stack.storage).delete("captions/talk/en.ttml")  # as a library older than TTML
    vtt = stack.client.get("/v1/videos/talk/captions/en.vtt").text
    ttml = stack.client.get("/v1/videos/talk/captions/en.ttml")
    assert ttml.status_code == 200 and ttml.headers["etag"].endswith('-ttml"')
    assert ttml.headers["access-control-allow-origin"] == "*"
    assert_ttml_matches_vtt(ttml.text, vtt, "en")
    again = stack.client.get(
        "/v1/videos/talk/captions/en.ttml", headers={"If-None-Match": ttml.headers["etag"]}
    )
    assert again.status_code == 304


def test_every_answer_is_what_the_openapi_document_says(stack: Stack, media) -> None:  # type: ignore[no-untyped-def]
    document = stack.client.get("/openapi.json").json()
    video = "/v1/videos/{video_id}"
    track = f"{video}/captions/{{lang}}"
    etag = stack.track("talk", "en")["etag"]
    calls = [
        ("get", "/healthz", "/healthz", {}),
        ("get", "/v1/info", "/v1/info", {}),
        ("get", video, "/v1/videos/talk", {}),
        ("get", f"{video}/captions", "/v1/videos/talk/captions", {}),
        ("get", track, "/v1/videos/talk/captions/en", {}),
        ("get", f"{track}/revisions", "/v1/videos/talk/captions/en/revisions", {}),
        ("put", track, "/v1/videos/talk/captions/en",
         {"content": VTT.format(text="Checked against the document"),
          "headers": {**AUTH, "If-Match": f'"{etag}"'}}),
        ("post", "/v1/videos", "/v1/videos",
         {"content": media("webm").read_bytes(), "headers": AUTH, "params": {"video_id": "doc"}}),
        ("get", video, "/v1/videos/no-such-video", {}),  # errors too
        ("get", video, "/v1/videos/..x", {}),
        ("put", track, "/v1/videos/talk/captions/en", {"content": "x", "headers": AUTH}),
        ("post", f"{track}/generate", "/v1/videos/talk/captions/xx/generate", {"headers": AUTH}),
    ]  # fmt: skip
    for method, template, path, options in calls:
        answer = stack.client.request(method.upper(), path, **options)
        schema = _answer_schema(document, template, method, answer.status_code)
        validator = Draft202012Validator({**schema, "components": document["components"]})
        problems = [e.message for e in validator.iter_errors(answer.json())]
        assert problems == [], (method, path, answer.status_code, problems)
    stack.wait_ready("doc")


def _answer_schema(document: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    responses = document["paths"][path][method]["responses"]
    assert str(status) in responses, (path, method, status, list(responses))
    schema: dict[str, Any] = responses[str(status)]["content"]["application/json"]["schema"]
    assert schema, (path, method, status)  # a model, not "any JSON"
    return schema


def test_a_new_language_needs_if_none_match(stack: Stack) -> None:
    srt = "1\n00:00:00,500 --> 00:00:02,000\nHallo zusammen\n"
    assert stack.put("talk", "de", srt).status_code == 428
    added = stack.put("talk", "de", srt, If_None_Match="*")
    assert added.status_code == 201, added.text
    entry = added.json()
    assert (entry["label"], entry["kind"], entry["revision"]) == ("Deutsch", "subtitles", 1)
    assert stack.put("talk", "de", srt, If_None_Match="*").status_code == 412
    labels = [c["label"] for c in stack.client.get("/v1/videos/talk/captions").json()["captions"]]
    assert labels[0] == "English" and "Deutsch" in labels


def test_broken_files_are_refused_with_the_line_and_the_problem(stack: Stack) -> None:
    cases = [
        ("WEBVTT\n\n00:00:01,000 --> 00:00:02.000\nx\n", "line 3: bad cue times"),
        ("WEBVTT\n\n00:00:03.000 --> 00:00:04.000\nx\n\n00:00:01.000 --> 00:00:02.000\ny\n",
         "line 6: the cue starts before the one before it"),
        ("just some text\n", "line 1: neither WebVTT"),
        ("WEBVTT\n\n00:00:01.000 --> 01:00:00.000\nway past the end\n",
         "line 3: the cue ends at 3600.000 s, after the end of the media"),
    ]  # fmt: skip
    for body, message in cases:
        answer = stack.put("talk", "fr", body, If_None_Match="*")
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "invalid_captions"
        assert answer.json()["error"]["message"].startswith(message), answer.text
    too_big = stack.put("talk", "fr", b"WEBVTT\n\n" + b"x" * (2 * 2**20), If_None_Match="*")
    assert too_big.status_code == 413
    assert stack.client.get("/v1/videos/talk/captions/fr").status_code == 404  # nothing saved


def test_writes_need_the_key_and_safe_names(stack: Stack) -> None:
    body = VTT.format(text="x").encode()
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        for method, path in (("PUT", "/v1/videos/talk/captions/en"),
                             ("DELETE", "/v1/videos/talk/captions/en"),
                             ("POST", "/v1/videos/talk/captions/en/generate")):  # fmt: skip
            answer = stack.client.request(method, path, content=body, headers=headers)
            assert answer.status_code == 401, (method, path)
    assert stack.put("talk", "EN!", body, If_None_Match="*").status_code == 400
    # ".." is resolved by the client to another path, which takes no PUT
    assert stack.put("talk", "..", body, If_None_Match="*").status_code in (400, 404, 405)
    assert stack.put("no-such-video", "en", body, If_None_Match="*").status_code == 404
    assert stack.client.get("/v1/videos/talk/captions/en/revisions/0.vtt").status_code == 400


def test_of_saves_racing_from_one_etag_exactly_one_lands(stack: Stack) -> None:
    assert stack.put("talk", "es", VTT.format(text="base"), If_None_Match="*").status_code == 201
    etag = stack.track("talk", "es")["etag"]
    codes: list[int] = []
    start = threading.Barrier(8)

    def save(n: int) -> None:
        with httpx.Client(base_url=stack.gateway.url, timeout=60) as client:
            start.wait()
            answer = client.put(
                "/v1/videos/talk/captions/es",
                content=VTT.format(text=f"edit {n}").encode(),
                headers={**AUTH, "If-Match": f'"{etag}"'},
            )
            codes.append(answer.status_code)

    threads = [threading.Thread(target=save, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200] + [412] * 7
    revisions = stack.client.get("/v1/videos/talk/captions/es/revisions").json()["revisions"]
    # The losers left nothing behind (numbers are claimed before the race is decided).
    assert len(revisions) == 2 and revisions[0]["revision"] == 1 and revisions[1]["current"]


def test_a_deleted_track_leaves_the_list_the_player_and_the_origin(stack: Stack) -> None:
    assert stack.put("talk", "it", VTT.format(text="ciao"), If_None_Match="*").status_code == 201
    assert stack.client.delete("/v1/videos/talk/captions/it", headers=AUTH).status_code == 204
    languages = [
        c["language"] for c in stack.client.get("/v1/videos/talk/captions").json()["captions"]
    ]
    assert "it" not in languages
    assert stack.client.get("/v1/videos/talk/captions/it.vtt").status_code == 404
    assert stack.client.get("/v1/videos/talk/captions/it.srt").status_code == 404
    status = stack.client.get("/v1/videos/talk").json()
    assert all(t["language"] != "it" for t in status["tracks"])
    revisions = stack.client.get("/v1/videos/talk/captions/it/revisions").json()["revisions"]
    assert [(r["revision"], r["current"]) for r in revisions] == [(1, False)]
    assert "ciao" in stack.client.get(revisions[0]["url"]).text
    assert stack.client.delete("/v1/videos/talk/captions/it", headers=AUTH).status_code == 404


def test_every_change_is_announced_on_captions_updated(stack: Stack) -> None:
    topic = stack.service.topics["captions.updated"]
    events = collect(
        stack.service.bootstrap,
        [topic],
        lambda seen: any(e["change"] == "deleted" and e["language"] == "it" for e in seen),
        60,
    )
    for event in events:
        assert event["_key"] == "talk"
        CaptionsUpdated.from_json(json.dumps({k: v for k, v in event.items() if k[0] != "_"}))
    changes = {(e["language"], e["change"], e["revision"], e["current"]) for e in events}
    assert ("de", "replaced", 1, True) in changes
    assert ("es", "replaced", 2, True) in changes
    assert ("it", "deleted", 1, False) in changes
    english = [e for e in events if e["language"] == "en"]
    assert english and english[-1]["generated"] is False
    assert {t["format"] for t in english[-1]["tracks"]} == {"vtt", "srt", "ttml"}


# --- made again with the real weights ------------------------------------------------------------


@pytest.mark.parametrize("stack", ["folder"], indirect=True)  # the embedded default's storage
def test_a_wrong_language_track_is_made_again_in_the_right_one(stack: Stack) -> None:
    french = REALSPEECH / "ej-fra.m4a"
    status = stack.upload("french", french, language="de")  # a wrong language, as if detected
    assert status["language"] == "de"
    asked = stack.client.post("/v1/videos/french/captions/fr/generate", headers=AUTH)
    assert asked.status_code == 202, asked.text
    listed = stack.client.get("/v1/videos/french/captions").json()["captions"]
    assert any(c["language"] == "fr" and c["status"] == "generating" for c in listed)
    fr = _wait_made(stack, "french", "fr")
    assert fr["generated"] is True and fr["kind"] == "captions" and fr["revision"] == 1
    text = " ".join(c["text"] for c in stack.track("french", "fr")["cues"]).lower()
    assert "m'appelle" in text and "traduction automatique" in text, text
    assert stack.client.get("/v1/videos/french").json()["language"] == "fr"
    events = collect(stack.service.bootstrap, [stack.service.topics["captions.updated"]],
                     lambda seen: any(e["video_id"] == "french" for e in seen), 30)  # fmt: skip
    made = [e for e in events if e["video_id"] == "french"]
    assert [(e["language"], e["change"], e["current"]) for e in made] == [("fr", "generated", True)]

    # A person's revision is never replaced by a track made again.
    person = stack.put("french", "fr", VTT.format(text="Bonjour, je m'appelle Éric."),
                       If_Match=f'"{stack.track("french", "fr")["etag"]}"')  # fmt: skip
    assert person.status_code == 200, person.text
    assert (
        stack.client.post("/v1/videos/french/captions/fr/generate", headers=AUTH).status_code == 202
    )
    _wait_made(stack, "french", "fr")
    revisions = stack.client.get("/v1/videos/french/captions/fr/revisions").json()["revisions"]
    assert [(r["revision"], r["generated"], r["current"]) for r in revisions] == [
        (1, True, False),
        (2, False, True),
        (3, True, False),
    ]
    assert "Éric" in stack.client.get("/v1/videos/french/captions/fr.vtt").text

    # English asked for French speech: its translation, a track of its own (subtitles).
    assert (
        stack.client.post("/v1/videos/french/captions/en/generate", headers=AUTH).status_code == 202
    )
    en = _wait_made(stack, "french", "en")
    assert (en["kind"], en["generated"], en["label"]) == ("subtitles", True, "English")
    english = " ".join(c["text"] for c in stack.track("french", "en")["cues"]).lower()
    assert "my name is" in english, english
    assert (
        "Éric" in stack.client.get("/v1/videos/french/captions/fr.vtt").text
    )  # still the person's


def _wait_made(stack: Stack, video_id: str, lang: str, timeout_s: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        captions = stack.client.get(f"/v1/videos/{video_id}/captions").json()["captions"]
        entry = next((c for c in captions if c["language"] == lang), None)
        if entry is not None and entry["status"] == "ready" and entry["urls"]:
            return entry
        assert entry is None or entry["status"] != "failed", entry
        time.sleep(0.5)
    raise AssertionError(f"{lang} not made again: {stack.service.log_text()[-3000:]}")
