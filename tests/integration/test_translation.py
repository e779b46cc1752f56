"""Subtitles in another language, with the real models: the real Whisper base weights hear the
speech, Mozilla's real English -> Brazilian Portuguese model (`firefox`) translates it.

Through the CLI (a track per target, cues inside their source sentences and within the rules, a
glossary term kept, a failed translator failing its track only, the CTranslate2 backend end to
end on a scripted model), and through the stream service and the gateway over real sockets (a
real Kafka broker): the upload's `pt-BR` track, the targets the gateway lists and refuses, a
correction of the English captions that makes the Portuguese subtitles again, a person's edit
that stays and shows as stale, and a translation made again on request.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from captions.checks import cue_problems
from captions.markup import notation
from captions.reading import read_caption_file
from captions.rules import CaptionRules, rules_for_language
from captions.translation import LEAD_IN_S, MAX_BORROW_AFTER_S, sentences_of
from connectors.storage import open_store
from devtools.scripted_translator import build_scripted_translator
from library.track_meta import read_track_meta, without_meta
from schemas.transcript import Transcript
from tests.cli_process import run_cli
from tests.gateway_process import Gateway, stream_and_gateway
from tests.paths import REALSPEECH

KEY = "translation-key-" + uuid.uuid4().hex
AUTH = {"Authorization": f"Bearer {KEY}"}
# Portuguese words the real model writes for JFK's sentence ("ask not what your country can do
# for you"): "país" (country), "fazer" (do), "pelo/por" (for).
PORTUGUESE = {"país", "fazer", "que", "o"}


def portuguese_words(text: str) -> set[str]:
    return {w.strip(".,!?").lower() for w in text.split()}


def check_in_sync(vtt: str, transcript: dict[str, Any], language: str) -> None:
    """Every cue inside the span of one source sentence (with the borrowing the layout allows)
    and within the target's line rules."""
    sentences = sentences_of(Transcript.from_dict(transcript).words)
    cues = read_caption_file(without_meta(vtt).encode("utf-8"))
    assert cues
    rules = rules_for_language(language, CaptionRules())
    for k, cue in enumerate(cues):
        inside = [
            s
            for s in sentences
            if s.start - LEAD_IN_S - 1e-3 <= cue.start and cue.end <= s.end + MAX_BORROW_AFTER_S
        ]
        assert inside, f"cue {cue} is in no sentence's span: {sentences}"
        following = cues[k + 1].start if k + 1 < len(cues) else None
        problems = cue_problems(cue.start, cue.end, notation(cue.cue_text), following, rules)
        assert not [p for p in problems if "line" in p.text or "overlap" in p.text], problems


# ---- the CLI --------------------------------------------------------------------------------


def caption(recording: str, model: Path, out: Path, *options: str) -> Path:
    """`autocaption caption` of one real recording into `out`; the video's folder."""
    done = run_cli(
        "caption", str(REALSPEECH / recording), "--model", str(model), "--out", str(out), *options
    )
    assert done.returncode == 0, done.stderr
    return out / Path(recording).stem


def test_caption_makes_a_brazilian_portuguese_track_in_sync(
    real_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    caption("jfk.flac", real_model, out, "--translate-to", "pt-br")
    vtt = (out / "jfk" / "pt-BR.vtt").read_text()
    assert vtt.startswith("WEBVTT\n\nNOTE language=pt-BR\n")
    text = " ".join(c.text for c in read_caption_file(vtt.encode()))
    assert portuguese_words(text) >= PORTUGUESE, text
    assert "country" not in text
    transcript = json.loads((out / "jfk" / "transcript.json").read_text())
    check_in_sync(vtt, transcript, "pt-BR")
    manifest = json.loads((out / "jfk" / "manifest.json").read_text())
    entries = [t for t in manifest["tracks"] if t["language"] == "pt-BR"]
    assert {t["format"] for t in entries} == {"vtt", "srt", "ttml"}
    assert all(t["kind"] == "subtitles" for t in entries)
    assert entries[0]["source"] == {"language": "en", "revision": 1, "translator": "firefox"}
    assert (out / "jfk" / "pt-BR.srt").read_text().startswith("1\n00:00:")


def test_a_glossary_term_is_kept_as_written(real_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    caption("hotwords.mp3", real_model, out, "--translate-to", "pt-BR", "--hotwords", "ComfyUI")
    english = (out / "hotwords" / "en.vtt").read_text()
    portuguese = (out / "hotwords" / "pt-BR.vtt").read_text()
    assert "ComfyUI" in english
    assert "ComfyUI" in portuguese and "pasta" in portuguese, portuguese  # "folder"


def test_french_speech_reaches_portuguese_through_whispers_english(
    real_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    caption("ej-fra.m4a", real_model, out, "--language", "fr", "--translate-to", "pt-BR")
    manifest = json.loads((out / "ej-fra" / "manifest.json").read_text())
    (entry,) = [t for t in manifest["tracks"] if t["language"] == "pt-BR" and t["format"] == "vtt"]
    assert entry["source"]["translator"] == "whisper+firefox" and entry["source"]["via"] == "en"
    text = (out / "ej-fra" / "pt-BR.vtt").read_text()
    assert {"meu", "nome"} <= portuguese_words(text), text  # "Je m'appelle" -> "meu nome é"
    assert not (out / "ej-fra" / "en.vtt").exists()  # English was not asked for


def test_a_translator_that_fails_fails_its_track_only(real_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "no-such-model"
    translators = f"firefox,ctranslate2:{missing}?family=m2m100"
    caption("jfk.flac", real_model, out, "--translators", translators, "--translate-to", "fr,pt-BR")
    manifest = json.loads((out / "jfk" / "manifest.json").read_text())
    assert manifest["status"] == "ready"
    (failed,) = [t for t in manifest["tracks"] if t["language"] == "fr"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "model_unavailable"
    assert (out / "jfk" / "pt-BR.vtt").exists() and (out / "jfk" / "en.vtt").exists()
    assert not (out / "jfk" / "fr.vtt").exists()


def test_the_ctranslate2_backend_runs_in_the_pipeline(real_model: Path, tmp_path: Path) -> None:
    model = build_scripted_translator(str(tmp_path / "m2m100"), ["bonjour", "le", "monde."])
    out = tmp_path / "out"
    translators = f"ctranslate2:{model}?family=m2m100"
    caption("jfk.flac", real_model, out, "--translators", translators, "--translate-to", "fr")
    cues = read_caption_file((out / "jfk" / "fr.vtt").read_bytes())
    # JFK's one sentence, ten seconds long: its translation spread over it, in two cues (a
    # cue is shown for at most 7 s)
    assert " ".join(c.text for c in cues) == "bonjour le monde."
    assert len(cues) == 2 and cues[0].start < 0.5 and cues[-1].end > 9.0
    manifest = json.loads((out / "jfk" / "manifest.json").read_text())
    (entry,) = [t for t in manifest["tracks"] if t["language"] == "fr" and t["format"] == "vtt"]
    assert entry["source"]["translator"] == "ctranslate2:m2m100"


def test_a_target_no_translator_makes_is_refused_naming_those_that_can(
    real_model: Path, tmp_path: Path
) -> None:
    done = run_cli("caption", str(REALSPEECH / "jfk.flac"), "--out", str(tmp_path),
                   "--model", str(real_model), "--translate-to", "ja")  # fmt: skip
    assert done.returncode == 2
    assert "no configured translator makes ja; these can be made: en, pt-BR" in done.stderr


# ---- the stream service and the gateway -----------------------------------------------------


class Stack:
    def __init__(self, storage: str, gateway: Gateway, client: httpx.Client) -> None:
        self.storage = storage
        self.gateway = gateway
        self.client = client

    def captions(self, video_id: str) -> dict[str, dict[str, Any]]:
        listed = self.client.get(f"/v1/videos/{video_id}/captions").json()["captions"]
        return {c["language"]: c for c in listed}

    def wait_for(self, video_id: str, check: Any, timeout_s: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            listed = self.captions(video_id)
            if check(listed):
                return listed
            time.sleep(0.3)
        raise AssertionError(f"not reached: {self.captions(video_id)}")


@pytest.fixture(scope="module")
def stack(
    bootstrap_servers: str, real_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    storage = str(tmp_path_factory.mktemp("storage"))
    prefix = f"tr{uuid.uuid4().hex[:6]}."
    processes = stream_and_gateway(bootstrap_servers, storage, real_model, prefix, KEY)
    with processes as (_, gateway), httpx.Client(base_url=gateway.url, timeout=60) as client:
        stack = Stack(storage, gateway, client)
        answer = client.post(
            "/v1/videos",
            params={"video_id": "jfk", "name": "jfk.flac", "translate_to": "pt-BR"},
            content=(REALSPEECH / "jfk.flac").read_bytes(),
            headers=AUTH,
        )
        assert answer.status_code == 202, answer.text
        stack.wait_for("jfk", lambda c: c.get("pt-BR", {}).get("status") == "ready")
        yield stack


def test_the_gateway_lists_targets_by_native_name_and_refuses_others(stack: Stack) -> None:
    info = stack.client.get("/v1/info").json()
    assert info["translate_to"] == [
        {"code": "en", "native_name": "English"},
        {"code": "pt-BR", "native_name": "Português (Brasil)"},
    ]
    assert info["translators"] == ["firefox"]
    refused = stack.client.post(
        "/v1/videos", params={"translate_to": "fr"}, content=b"x", headers=AUTH
    )
    assert refused.status_code == 400
    assert "no configured translator makes fr; these can be made: en, pt-BR" in refused.text


def test_an_uploads_subtitles_are_made_by_the_stream_service(stack: Stack) -> None:
    entry = stack.captions("jfk")["pt-BR"]
    assert entry["kind"] == "subtitles" and entry["label"] == "Português (Brasil)"
    assert entry["generated"] is True and entry["stale"] is False
    english = stack.captions("jfk")["en"]
    assert entry["source"] == {
        "language": "en", "revision": english["revision"], "translator": "firefox", "via": None
    }  # fmt: skip
    vtt = stack.client.get(entry["urls"]["vtt"]).text
    assert portuguese_words(" ".join(c["text"] for c in _cues(stack, "pt-BR"))) >= PORTUGUESE
    transcript = stack.client.get("/v1/videos/jfk/transcript").json()
    check_in_sync(vtt, transcript, "pt-BR")
    assert stack.client.get(entry["urls"]["ttml"]).status_code == 200
    document = stack.client.get("/v1/videos/jfk/captions/pt-BR").json()
    assert document["rules"]["max_chars_per_line"] == 42


def _cues(stack: Stack, lang: str) -> list[dict[str, Any]]:
    cues: list[dict[str, Any]] = stack.client.get(f"/v1/videos/jfk/captions/{lang}").json()["cues"]
    return cues


CORRECTED = (
    "WEBVTT\n\n00:00:00.000 --> 00:00:04.000\nAnd so, my fellow citizens of the world,\n\n"
    "00:00:04.500 --> 00:00:10.000\nask what together we can do for the freedom of man.\n"
)


def test_a_correction_flows_into_the_machine_translation_and_a_persons_edit_stays(
    stack: Stack,
) -> None:
    before = stack.captions("jfk")
    english, portuguese = before["en"], before["pt-BR"]
    saved = stack.client.put(
        "/v1/videos/jfk/captions/en",
        content=CORRECTED.encode(),
        headers={**AUTH, "If-Match": f'"{english["etag"]}"'},
    )
    assert saved.status_code == 200, saved.text
    corrected = saved.json()["revision"]
    after = stack.wait_for("jfk", lambda c: c["pt-BR"]["revision"] > portuguese["revision"])[
        "pt-BR"
    ]
    assert after["generated"] is True and after["stale"] is False
    assert after["source"]["revision"] == corrected
    text = " ".join(c["text"] for c in _cues(stack, "pt-BR"))
    assert "mundo" in portuguese_words(text), text  # "the world"
    assert "país" not in portuguese_words(text)
    stored = open_store(stack.storage).get_bytes("captions/jfk/pt-BR.vtt").decode()
    meta = read_track_meta(stored)
    assert meta is not None and meta.source is not None and meta.source.revision == corrected

    # A person edits the Portuguese; a later correction of the English leaves it as it is.
    mine = "WEBVTT\n\n00:00:00.000 --> 00:00:04.000\nE assim, meus concidadãos do mundo,\n"
    edited = stack.client.put(
        "/v1/videos/jfk/captions/pt-BR",
        content=mine.encode(),
        headers={**AUTH, "If-Match": f'"{after["etag"]}"'},
    )
    assert edited.status_code == 200, edited.text
    english = stack.captions("jfk")["en"]
    again = stack.client.put(
        "/v1/videos/jfk/captions/en",
        content=CORRECTED.replace("freedom", "liberty").encode(),
        headers={**AUTH, "If-Match": f'"{english["etag"]}"'},
    )
    assert again.status_code == 200
    listed = stack.wait_for("jfk", lambda c: c["pt-BR"]["stale"])
    assert listed["pt-BR"]["generated"] is False
    assert listed["pt-BR"]["revision"] == edited.json()["revision"]
    assert [c["text"] for c in _cues(stack, "pt-BR")] == ["E assim, meus concidadãos do mundo,"]

    # Asked for again, a new translation is made (kept, not current over the person's).
    asked = stack.client.post("/v1/videos/jfk/captions/pt-BR/generate", headers=AUTH)
    assert asked.status_code == 202, asked.text
    stack.wait_for("jfk", lambda c: c["pt-BR"]["status"] == "ready")
    revisions = stack.client.get("/v1/videos/jfk/captions/pt-BR/revisions").json()["revisions"]
    assert revisions[-1]["generated"] is True and revisions[-1]["current"] is False
    refused = stack.client.post(
        "/v1/videos/jfk/captions/ja/generate", params={"kind": "subtitles"}, headers=AUTH
    )
    assert refused.status_code == 400 and "en, pt-BR" in refused.text


def test_a_translation_that_cannot_be_made_is_listed_failed_and_the_captions_are_ready(
    stack: Stack,
) -> None:
    # Chinese speech, its language detected: no text translator reads Chinese, and Whisper's
    # English was not made (the language was not given), so pt-BR has no route.
    answer = stack.client.post(
        "/v1/videos",
        params={"video_id": "zh", "name": "chinese.flac", "translate_to": "pt-BR"},
        content=(REALSPEECH / "chinese.flac").read_bytes(),
        headers=AUTH,
    )
    assert answer.status_code == 202, answer.text
    listed = stack.wait_for("zh", lambda c: c.get("pt-BR", {}).get("status") == "failed")
    assert listed["zh"]["status"] == "ready" and listed["zh"]["urls"] is not None
    error = listed["pt-BR"]["error"]
    assert error["code"] == "unsupported_pair"
    assert "zh->pt-BR" in error["message"] and "language=zh" in error["message"]
    status = stack.client.get("/v1/videos/zh").json()
    assert status["status"] == "ready"
