"""A supplied transcript timed to the speech, with the real Whisper base weights on real recordings.

`autocaption caption --transcripts-beside` runs as a user runs it over: JFK's speech with its
words punctuated by a person; the English licence of `multilingual.mp3` with a sentence missing
from the script, and with a sentence the video does not say; a sentence of numbers said as words
and written as figures (espeak-ng: no recording here says them); French, Japanese and Chinese
recordings with their texts; and a transcript that is not text. Then through the stream service
and the gateway, on a real S3 server and on a local folder: `POST /v1/transcripts` and an upload
with it, `POST .../align` with If-Match (the words laid out anew, then a person's cues kept with
one re-timed) and `captions.updated`; `autocaption publish --transcript --keep-cues` as a
`video.uploaded` event answered by `captions.ready`; and a model's track made again afterwards,
kept behind the aligned one.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.speech import spoken_sentence
from tests.cli_process import run_cli
from tests.gateway_process import Gateway, fresh_storage, stream_and_gateway
from tests.integration.test_real_speech import FRENCH
from tests.paths import REALSPEECH
from tests.stream_service import Service, collect

JFK_WRITTEN = (
    "And so, my fellow Americans: ask not what your country can do for you — ask what you can "
    "do for your country."
)
LICENCE = [
    "Permission is hereby granted, free of charge, to any person obtaining a copy of the "
    "software and associated documentation files, to deal in the software without restriction, "
    "including without limitation the rights to use, copy, modify, merge, publish, distribute, "
    "sublicense, and/or sell copies of the software,",
    "and to permit persons to whom the software is furnished to do so, subject to the following "
    "conditions:",
    "The above copyright notice and this permission notice shall be included in all copies or "
    "substantial portions of the software.",
]
CUT = "This sentence was taken out of the video before it was published, so nobody says it."
NUMBERS_SAID = "The ticket cost thirteen pounds sixty in twenty fourteen."
NUMBERS_WRITTEN = "The ticket cost £13.60 in 2014."
JAPANESE = "真っ昼間なのにキャンプの外れの電柱に電球がともっていた。"
CHINESE = "砸自己的脚"


@dataclass(frozen=True)
class Aligned:
    """One input's outcome: its manifest and its words with their times."""

    manifest: dict[str, Any]
    words: list[dict[str, Any]]
    vtt: str

    @property
    def text(self) -> str:
        out = ""
        for w in self.words:
            out += (" " if out and w.get("space_before", True) else "") + w["text"]
        return out


def _read(out: Path, video_id: str, lang: str) -> Aligned:
    manifest = json.loads((out / video_id / "manifest.json").read_text())
    transcript = json.loads((out / video_id / "transcript.json").read_text())
    words = [w for s in transcript["segments"] for w in s["words"]]
    return Aligned(manifest, words, (out / video_id / f"{lang}.vtt").read_text())


@pytest.fixture(scope="module")
def cli_run(real_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One `caption --transcripts-beside` over every case (the model loads once)."""
    root = tmp_path_factory.mktemp("aligned-in")
    cases = {
        "jfk.flac": ("jfk.flac", JFK_WRITTEN),
        "missing.mp3": ("multilingual.mp3", " ".join([LICENCE[0], LICENCE[2]])),
        "extra.mp3": ("multilingual.mp3", " ".join([LICENCE[0], LICENCE[1], CUT, LICENCE[2]])),
        "ej-fra.m4a": ("ej-fra.m4a", FRENCH),
        "ja.mp3": ("common_voice_ja_24511055.mp3", JAPANESE),
        "zh.flac": ("chinese.flac", CHINESE),
        "broken.flac": ("jfk.flac", None),
    }
    for name, (recording, text) in cases.items():
        shutil.copy(REALSPEECH / recording, root / name)
        script = root / Path(name).with_suffix(".txt")
        if text is None:
            script.write_bytes(b"\xff\xfe\x00 not text")
        else:
            script.write_text(text + "\n", encoding="utf-8")
    spoken_sentence(NUMBERS_SAID, root / "numbers.flac")
    (root / "numbers.srt").write_text(  # a caption file whose times are wrong: words kept
        f"1\n00:00:07,000 --> 00:00:09,000\n{NUMBERS_WRITTEN}\n", encoding="utf-8"
    )
    out = tmp_path_factory.mktemp("aligned-out")
    inputs = sorted(str(p) for p in root.iterdir() if p.suffix in (".flac", ".mp3", ".m4a"))
    result = run_cli(
        "caption", *inputs, "--transcripts-beside", "--out", str(out), "--model", str(real_model)
    )
    return out, result.stderr


def test_the_track_holds_exactly_the_written_words_timed_to_the_speech(
    cli_run: tuple[Path, str],
) -> None:
    out, _ = cli_run
    jfk = _read(out, "jfk", "en")
    assert jfk.text == JFK_WRITTEN  # spelling, casing and punctuation as written
    cues = " ".join(line for line in jfk.vtt.split("\n\n", 2)[2].splitlines() if "-->" not in line)
    assert " ".join(cues.split()) == JFK_WRITTEN
    alignment = jfk.manifest["alignment"]
    assert alignment["words"] == 23 and alignment["interpolated"] == 0
    assert alignment["uncaptioned"] == []
    entry = next(t for t in jfk.manifest["tracks"] if t["format"] == "vtt")
    assert entry["maker"] == "aligned" and entry["aligned"] == 23 and entry["interpolated"] == 0
    starts = [w["start"] for w in jfk.words]
    assert starts == sorted(starts) and all(w["end"] >= w["start"] for w in jfk.words)
    at = {w["text"]: w for w in jfk.words}
    # where the words are said (JFK's pause after "Americans," is over a second long)
    assert 1.3 <= at["Americans:"]["start"] <= 1.8 and at["not"]["start"] > 3.0
    assert 9.6 <= at["country."]["start"] <= 10.3 and jfk.words[-1]["end"] <= 11.0


def test_speech_the_script_lacks_is_left_uncaptioned_and_reported(
    cli_run: tuple[Path, str],
) -> None:
    out, stderr = cli_run
    missing = _read(out, "missing", "en")
    assert missing.text == " ".join([LICENCE[0], LICENCE[2]])
    assert "permit" not in missing.vtt
    gaps = missing.manifest["alignment"]["uncaptioned"]
    heard = [g for g in gaps if "permit" in g["heard"]]
    assert len(heard) == 1 and 15.0 <= heard[0]["start"] <= 20.0, gaps
    german = [g for g in gaps if g["start"] >= 29.0]  # the licence read in German after it
    assert german and german[-1]["end"] >= 55.0
    (cut_before,) = [w for w in missing.words if w["text"] == "software," and w["end"] < 20]
    (after,) = [w for w in missing.words if w["text"] == "The"]
    assert cut_before["end"] <= heard[0]["start"] + 0.5 and after["start"] >= heard[0]["end"] - 0.5
    assert "missing.mp3:" in stderr and "left uncaptioned" in stderr


def test_text_with_no_speech_is_interpolated_between_its_neighbours_and_reported(
    cli_run: tuple[Path, str],
) -> None:
    out, _ = cli_run
    extra = _read(out, "extra", "en")
    assert extra.text == " ".join([LICENCE[0], LICENCE[1], CUT, LICENCE[2]])
    alignment = extra.manifest["alignment"]
    assert alignment["interpolated"] == len(CUT.split())
    assert alignment["aligned"] + alignment["interpolated"] == len(extra.words)
    k = next(i for i, w in enumerate(extra.words) if w["text"] == "This")
    cut = extra.words[k : k + len(CUT.split())]
    before, after = extra.words[k - 1], extra.words[k + len(CUT.split())]
    assert before["text"] == "conditions:" and after["text"] == "The"
    assert before["end"] <= cut[0]["start"] and cut[-1]["end"] <= after["start"]
    assert after["start"] - before["end"] < 2.5  # the neighbours keep their own times


def test_numbers_said_as_words_keep_their_written_form(cli_run: tuple[Path, str]) -> None:
    out, _ = cli_run
    numbers = _read(out, "numbers", "en")
    assert numbers.text == NUMBERS_WRITTEN
    at = {w["text"]: w for w in numbers.words}
    assert at["cost"]["end"] <= at["£13.60"]["start"] < at["in"]["start"] < at["2014."]["start"]
    assert at["£13.60"]["end"] - at["£13.60"]["start"] >= 0.4  # "thirteen pounds sixty"
    assert numbers.words[-1]["end"] <= 5.0  # not where the SubRip file's times said (7-9 s)
    assert numbers.manifest["alignment"]["interpolated"] == 0


def test_french_japanese_and_chinese_recordings_align_their_texts(
    cli_run: tuple[Path, str],
) -> None:
    out, _ = cli_run
    french = _read(out, "ej-fra", "fr")
    assert french.text == FRENCH and french.manifest["alignment"]["interpolated"] == 0
    at = {w["text"]: w for w in french.words}
    assert at["Bonjour."]["start"] < 2.0 and 28.0 <= french.words[-1]["start"] <= 34.2
    japanese = _read(out, "ja", "ja")
    assert japanese.text == JAPANESE  # no spaces put in between the characters
    assert all(not w.get("space_before", True) for w in japanese.words[1:])
    assert japanese.manifest["alignment"]["interpolated"] == 0
    cues = "".join(line for line in japanese.vtt.split("\n\n", 2)[2].splitlines()[1:])
    assert "電球" in cues.replace("\n", "")
    starts = [w["start"] for w in japanese.words]
    assert starts == sorted(starts) and starts[0] >= 0.5 and japanese.words[-1]["end"] <= 6.6
    chinese = _read(out, "zh", "zh")
    assert chinese.text == CHINESE and len(chinese.words) == 5
    assert chinese.words[-1]["end"] <= 1.1


def test_a_transcript_that_is_not_text_fails_its_video_alone(cli_run: tuple[Path, str]) -> None:
    out, stderr = cli_run
    broken = json.loads((out / "broken" / "manifest.json").read_text())
    assert broken["status"] == "failed" and broken["error"]["code"] == "invalid_transcript"
    assert "not UTF-8" in broken["error"]["message"]
    assert "ERROR" in stderr and stderr.count("ERROR") == 1
    assert json.loads((out / "jfk" / "manifest.json").read_text())["status"] == "ready"


def test_transcript_goes_with_one_input(real_model: Path, tmp_path: Path) -> None:
    script = tmp_path / "words.txt"
    script.write_text("words\n")
    media = str(REALSPEECH / "jfk.flac")
    result = run_cli("caption", media, media, "--transcript", str(script), "--out", str(tmp_path))
    assert result.returncode == 2 and "--transcript goes with one input" in result.stderr
    result = run_cli("caption", media, "--transcript", str(tmp_path / "no"), "--out", str(tmp_path))
    assert result.returncode == 2 and "no such file" in result.stderr


# --- the stream service and the gateway ------------------------------------------------------

KEY = "align-key-" + uuid.uuid4().hex
AUTH = {"Authorization": f"Bearer {KEY}"}


@dataclass
class Stack:
    service: Service
    gateway: Gateway
    client: httpx.Client
    storage: str

    def entry(self, video_id: str, lang: str) -> dict[str, Any]:
        answer = self.client.get(f"/v1/videos/{video_id}/captions")
        return next(c for c in answer.json()["captions"] if c["language"] == lang)

    def words(self, video_id: str) -> list[str]:
        document = self.client.get(f"/v1/videos/{video_id}/captions/en").json()
        return " ".join(c["text"].replace("\n", " ") for c in document["cues"]).split()


@pytest.fixture(scope="module", params=["s3", "folder"])
def stack(
    request: pytest.FixtureRequest,
    bootstrap_servers: str,
    s3_endpoint: str,
    real_model: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    storage, bucket = fresh_storage(request.param, "aln", tmp_path_factory)
    prefix = f"aln{uuid.uuid4().hex[:6]}."
    processes = stream_and_gateway(bootstrap_servers, storage, real_model, prefix, KEY, bucket)
    with processes as (service, gateway), httpx.Client(base_url=gateway.url, timeout=60) as client:
        yield Stack(service, gateway, client, storage)


def _wait(check: Any, what: str, stack: Stack, timeout_s: float = 120) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"{what}: {stack.service.log_text()[-3000:]}")


def test_an_upload_with_its_transcript_and_a_re_timing_through_the_gateway(stack: Stack) -> None:
    client = stack.client
    refused = client.post("/v1/transcripts", content=b"\xff\xfe\x00", headers=AUTH)
    assert refused.status_code == 400 and "UTF-8" in refused.json()["error"]["message"]
    assert client.post("/v1/transcripts", content=JFK_WRITTEN.encode()).status_code == 401
    sent = client.post("/v1/transcripts", content=JFK_WRITTEN.encode(), headers=AUTH)
    assert sent.status_code == 201 and sent.json()["words"] == 23
    unknown = client.post(
        "/v1/videos",
        params={"video_id": "jfk", "transcript_id": "t" + "0" * 32},
        content=(REALSPEECH / "jfk.flac").read_bytes(),
        headers=AUTH,
    )
    assert unknown.status_code == 400
    staged = sent.json()["transcript_id"]
    upload = client.post(
        "/v1/videos",
        params={"video_id": "jfk", "name": "jfk.flac", "transcript_id": staged},
        content=(REALSPEECH / "jfk.flac").read_bytes(),
        headers=AUTH,
    )
    assert upload.status_code == 202, upload.text

    def ready() -> dict[str, Any] | None:
        status = client.get("/v1/videos/jfk").json()
        return status if status.get("status") == "ready" else None

    _wait(ready, "the upload with a transcript was not captioned", stack)
    entry = stack.entry("jfk", "en")
    assert entry["maker"] == "aligned" and entry["generated"] is False
    assert entry["aligned"] == 23 and entry["interpolated"] == 0
    assert stack.words("jfk") == JFK_WRITTEN.split()

    # a person rewrites the words and asks for them to be timed again
    edited = JFK_WRITTEN.replace("your country", "your nation")
    url = "/v1/videos/jfk/captions/en/align"
    assert client.post(url, content=edited.encode(), headers=AUTH).status_code == 428
    stale = {**AUTH, "If-Match": '"not-the-etag"'}
    assert client.post(url, content=edited.encode(), headers=stale).status_code == 412
    asked = client.post(url, content=edited.encode(), headers={**AUTH, "If-Match": entry["etag"]})
    assert asked.status_code == 202, asked.text

    def retimed() -> dict[str, Any] | None:
        now = stack.entry("jfk", "en")
        return now if now["revision"] > entry["revision"] and now["status"] == "ready" else None

    after = _wait(retimed, "the words were not timed again", stack)
    assert after["maker"] == "aligned" and after["generated"] is False
    assert stack.words("jfk") == edited.split()
    topic = stack.service.topics["captions.updated"]
    events = collect(
        stack.service.bootstrap,
        [topic],
        lambda got: any(e.get("revision") == after["revision"] for e in got),
        timeout=30,
    )
    (event,) = [e for e in events if e.get("revision") == after["revision"]]
    assert event["generated"] is False and event["current"] is True and event["language"] == "en"
    vtt_entry = next(t for t in event["tracks"] if t["format"] == "vtt")
    assert vtt_entry["maker"] == "aligned" and vtt_entry["aligned"] == 23

    # a person's own cues kept, only the middle one re-timed (the editor's Re-time on a cue)
    own = (
        "WEBVTT\n\n00:00:00.500 --> 00:00:02.900\nAnd so, my fellow <i>Americans</i>:\n\n"
        "00:00:04.000 --> 00:00:05.000\nask not what your nation\ncan do for you —\n\n"
        "00:00:08.000 --> 00:00:10.900\nask what you can do for your nation.\n"
    )
    assert (
        client.post(f"{url}?retime_from=2", content=own.encode(), headers=AUTH).status_code == 400
    )
    ranged = f"{url}?keep_cues=true&retime_from=2&retime_to=2"
    assert client.post(ranged, content=b"plain words", headers=AUTH).status_code == 400
    asked = client.post(ranged, content=own.encode(), headers={**AUTH, "If-Match": "*"})
    assert asked.status_code == 202, asked.text
    before = after

    def kept() -> dict[str, Any] | None:
        now = stack.entry("jfk", "en")
        return now if now["revision"] > before["revision"] and now["status"] == "ready" else None

    _wait(kept, "the kept cues were not re-timed", stack)
    cues = stack.client.get("/v1/videos/jfk/captions/en").json()["cues"]
    assert [c["text"] for c in cues] == [
        "And so, my fellow Americans:",
        "ask not what your nation\ncan do for you —",
        "ask what you can do for your nation.",
    ]
    assert cues[0]["markup"] == "And so, my fellow <i>Americans</i>:"
    assert (cues[0]["start"], cues[0]["end"]) == (0.5, 2.9)  # kept as the file gave them
    assert (cues[2]["start"], cues[2]["end"]) == (8.0, 10.9)
    assert 2.9 < cues[1]["start"] < 4.0 and 6.0 < cues[1]["end"] < 8.0  # said at about 3.3-7.3 s


def test_an_event_with_its_transcript_through_the_stream_and_a_model_never_replaces_it(
    stack: Stack, tmp_path: Path
) -> None:
    first = "Bonjour. Je m'appelle Éric Joanis."
    middle, last = FRENCH[len(first) + 1 :].split(" En ce moment", 1)
    words = tmp_path / "fra.vtt"  # the speaker's own text in three cues, their times wrong
    words.write_text(
        "WEBVTT\n\n00:01:00.000 --> 00:01:01.000\n" + first + "\n\n"
        "00:01:02.000 --> 00:01:03.000\n" + middle + "\n\n"
        "00:01:04.000 --> 00:01:05.000\nEn ce moment" + last + "\n",
        encoding="utf-8",
    )
    published = run_cli(
        "publish", str(REALSPEECH / "ej-fra.m4a"), "--video-id", "fra-event",
        "--bootstrap-servers", stack.service.bootstrap, "--storage", stack.storage,
        "--uploaded-topic", stack.service.topics["video.uploaded"], "--language", "fr",
        "--transcript", str(words), "--keep-cues",
    )  # fmt: skip
    assert published.returncode == 0, published.stderr
    event = json.loads(published.stdout)
    assert event["keep_cues"] is True and "/scripts/" in event["transcript"]
    ready = collect(
        stack.service.bootstrap,
        [stack.service.topics["captions.ready"]],
        lambda got: any(e.get("video_id") == "fra-event" for e in got),
        timeout=180,
    )
    (answer,) = [e for e in ready if e["video_id"] == "fra-event"]
    vtt = next(t for t in answer["tracks"] if t["format"] == "vtt")
    assert vtt["maker"] == "aligned" and vtt["generated"] is False and vtt["interpolated"] == 0
    cues = stack.client.get("/v1/videos/fra-event/captions/fr").json()["cues"]
    assert len(cues) == 3 and cues[0]["text"] == "Bonjour. Je m'appelle Éric Joanis."
    assert cues[0]["start"] < 2.0 and cues[2]["end"] <= 34.2  # timed to the speech, not 1:00
    assert " ".join(c["text"].replace("\n", " ") for c in cues).split() == FRENCH.split()

    # the model makes the track again: its revision is kept behind the person's words
    entry = stack.entry("fra-event", "fr")
    asked = stack.client.post("/v1/videos/fra-event/captions/fr/generate", headers=AUTH)
    assert asked.status_code == 202, asked.text

    def settled() -> list[dict[str, Any]] | None:
        got = stack.client.get("/v1/videos/fra-event/captions/fr/revisions").json()["revisions"]
        return got if len(got) > entry["revision"] else None

    revisions = _wait(settled, "the model's revision was not made", stack)
    assert revisions[-1]["generated"] is True and revisions[-1]["current"] is False
    now = stack.entry("fra-event", "fr")
    assert now["revision"] == entry["revision"] and now["maker"] == "aligned"
