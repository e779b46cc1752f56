"""`autocaption caption` end to end, as a user runs it: the real CLI in a subprocess, real
ffmpeg, real faster-whisper with the real Whisper base weights, the local Beam runner, a local
folder. (Failure paths and option checks use a scripted model: they assert no words.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import webvtt

from captions.reading import read_caption_file
from devtools.media import CLIP_TEXT
from devtools.scoring import score
from tests.caption_rules import check_vtt_text
from tests.cli_process import run_cli
from tests.ttml_reader import assert_ttml_matches_vtt

GOOD = {  # video_id -> (kind, options for make_media; the clip is speech_a unless named)
    "talk": ("mp4", {"name": "talk.mp4"}),
    "lecture": ("webm", {"name": "lecture.webm", "clip": "speech_b"}),
    "vorbis": ("mkv", {"name": "vorbis.mkv"}),
    "interview": ("mov", {"name": "interview.mov"}),
    "podcast": ("mp3", {"name": "podcast.mp3", "clip": "speech_b"}),
    "voice": ("wav", {"name": "voice.wav"}),
    "radio": ("ogg", {"name": "radio.ogg", "clip": "speech_b"}),
    "audiobook": ("flac", {"name": "audiobook.flac"}),
    "two_tracks": ("two_audio_mp4", {"name": "two_tracks.mp4"}),
    "late_start": ("mp4", {"name": "late_start.mp4", "intro_silence_s": 25.0}),
    "silence": ("silence_mp4", {"name": "silence.mp4"}),
}
NON_ASCII_NAME = "Grüße aus Köln.mp4"
BROKEN = {  # file name -> (kind, expected error code)
    "empty.mp4": ("empty", "unsupported_media"),
    "truncated.mp4": ("truncated_mp4", "unsupported_media"),
    "cut_short.mp4": ("truncated_faststart_mp4", "unsupported_media"),  # fails after decoding
    "no_audio.mp4": ("no_audio_mp4", "no_audio_stream"),
    "notes.mp4": ("text_mp4", "unsupported_media"),
    "noise.mkv": ("random_bytes", "unsupported_media"),
}


@pytest.fixture(scope="module")
def run(media, real_model: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One CLI run over 12 good media of 8 container/codec kinds and 6 broken files."""
    good = [media(kind, **opts) for kind, opts in GOOD.values()]
    good.append(media("mp4", name=NON_ASCII_NAME))
    broken = [media(kind, name=name) for name, (kind, _) in BROKEN.items()]
    out = tmp_path_factory.mktemp("captions")
    result = run_cli(
        "caption",
        *map(str, good + broken),
        "--out",
        str(out),
        "--model",
        str(real_model),
        "--batch-size",
        "4",
    )
    return result, out


def _manifest(out: Path, video_id: str) -> dict:  # type: ignore[type-arg]
    return json.loads((out / video_id / "manifest.json").read_text())


def test_exit_code_is_non_zero_and_there_is_no_traceback(run) -> None:  # type: ignore[no-untyped-def]
    result, _ = run
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "Traceback" not in result.stdout


def test_each_broken_input_is_one_error_line_with_its_code(run) -> None:  # type: ignore[no-untyped-def]
    result, out = run
    lines = [line for line in result.stderr.splitlines() if line.startswith("ERROR ")]
    assert len(lines) == len(BROKEN), result.stderr
    for name, (_, code) in BROKEN.items():
        (line,) = [line for line in lines if f"{name}: " in line]
        assert f": {code}: " in line
        manifest = _manifest(out, Path(name).stem)
        assert manifest["status"] == "failed"
        assert manifest["error"]["code"] == code
        assert manifest["tracks"] == []


def test_every_good_input_is_ready_with_tracks_that_keep_the_rules(run) -> None:  # type: ignore[no-untyped-def]
    _, out = run
    ids = [*GOOD, *(p.name for p in out.iterdir() if p.name.startswith("Gr"))]
    assert len(ids) == len(GOOD) + 1
    for video_id in ids:
        manifest = _manifest(out, video_id)
        assert manifest["status"] == "ready", (video_id, manifest)
        assert {t["format"] for t in manifest["tracks"]} == {"vtt", "srt", "ttml", "json"}
        if video_id == "silence":  # ready, with empty tracks in an undetermined language
            assert manifest["language"] == "und" and manifest["cues"] == 0
            assert webvtt.from_string((out / video_id / "und.vtt").read_text()).captions == []
            continue
        assert manifest["language"] == "en", video_id
        vtt = (out / video_id / "en.vtt").read_text()
        srt = (out / video_id / "en.srt").read_text()
        words = [w for c in webvtt.from_string(vtt) for w in c.text.split()]
        said = CLIP_TEXT[GOOD.get(video_id, ("", {}))[1].get("clip", "speech_a")]
        heard = score(said, " ".join(words))
        # Every word heard; the codecs blur a few ("leaves at nine" -> "leave at ION"): the
        # worst measured here is WER 0.21 on 24 words.
        assert heard.deletions == 0 and heard.wer <= 0.25, (video_id, heard.show(), words)
        assert check_vtt_text(vtt, None) == [], video_id  # the W3C's parser's errors too
        ttml = (out / video_id / "en.ttml").read_text()
        assert_ttml_matches_vtt(ttml, vtt, "en")
        assert manifest["cues"] == len(webvtt.from_string(vtt).captions) > 0
        assert srt.count(" --> ") == manifest["cues"]
        transcript = json.loads((out / video_id / "transcript.json").read_text())
        assert [w["text"] for s in transcript["segments"] for w in s["words"]] == words


def test_speech_after_a_silent_intro_gets_no_cue_in_the_intro(run) -> None:  # type: ignore[no-untyped-def]
    _, out = run
    captions = webvtt.read(str(out / "late_start" / "en.vtt")).captions
    assert captions
    assert captions[0].start_in_seconds >= 24.0  # 25 s intro, less the VAD's speech padding


def test_the_default_audio_stream_is_the_one_captioned(run) -> None:  # type: ignore[no-untyped-def]
    _, out = run
    manifest = _manifest(out, "two_tracks")
    assert manifest["status"] == "ready" and manifest["cues"] > 0


def test_manifest_is_written_last(run) -> None:  # type: ignore[no-untyped-def]
    _, out = run
    for video_id in GOOD:
        folder = out / video_id
        manifest_time = (folder / "manifest.json").stat().st_mtime_ns
        assert all(p.stat().st_mtime_ns <= manifest_time for p in folder.iterdir())


def test_missing_file_and_bad_options(tmp_path: Path, scripted_model: Path) -> None:
    missing = run_cli(
        "caption",
        str(tmp_path / "nope.mp4"),
        "--out",
        str(tmp_path / "o"),
        "--model",
        str(scripted_model),
    )
    assert missing.returncode == 1
    assert missing.stderr.strip().endswith(
        "source_not_found: " + missing.stderr.split("source_not_found: ", 1)[1].strip()
    )
    assert "Traceback" not in missing.stderr
    bad = run_cli(
        "caption",
        "x.mp4",
        "--out",
        str(tmp_path),
        "--language",
        "klingon",
        "--model",
        str(scripted_model),
    )
    assert bad.returncode == 2 and "--language" in bad.stderr
    no_model = run_cli("caption", "x.mp4", "--out", str(tmp_path), "--model", str(tmp_path))
    assert no_model.returncode == 2 and "model.bin" in no_model.stderr


def test_translate_to_english_adds_a_subtitle_track(
    media, scripted_model: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    talk = media("mp4", name="vortrag.mp4")
    result = run_cli(
        "caption",
        str(talk),
        "--out",
        str(tmp_path),
        "--model",
        str(scripted_model),
        "--language",
        "de",
        "--translate-to",
        "en",
        "--formats",
        "vtt,json",
    )
    assert result.returncode == 0, result.stderr
    manifest = _manifest(tmp_path, "vortrag")
    tracks = {(t["language"], t["kind"], t["format"]) for t in manifest["tracks"]}
    assert tracks == {
        ("de", "captions", "vtt"),
        ("en", "subtitles", "vtt"),
        ("de", "captions", "json"),
    }
    assert manifest["language"] == "de"
    assert not (tmp_path / "vortrag" / "de.srt").exists()
    assert check_vtt_text((tmp_path / "vortrag" / "en.vtt").read_text(), None) == []


def test_a_short_recording_with_more_words_than_fit_makes_valid_cues(
    media, scripted_model: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # The scripted model says twenty words in 1.7 s: the last cue used to end where it starts.
    short = media("wav", name="short.wav", duration_s=1.7)
    result = run_cli("caption", str(short), "--out", str(tmp_path), "--model", str(scripted_model))
    assert result.returncode == 0, result.stderr
    for track in _manifest(tmp_path, "short")["tracks"]:
        if track["format"] in ("vtt", "srt"):
            cues = read_caption_file((tmp_path / "short" / Path(track["uri"]).name).read_bytes())
            assert cues and all(c.start < c.end <= 1.7 for c in cues)


def test_english_speech_needs_no_translation(media, real_model: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    talk = media("mp4", name="talk.mp4")
    result = run_cli(
        "caption",
        str(talk),
        "--out",
        str(tmp_path),
        "--model",
        str(real_model),
        "--translate-to",
        "en",
    )
    assert result.returncode == 0, result.stderr
    manifest = _manifest(tmp_path, "talk")
    assert {t["language"] for t in manifest["tracks"]} == {"en"}
    assert {t["kind"] for t in manifest["tracks"]} == {"captions"}


def test_a_url_input_fails_alone_with_its_code_and_the_others_are_captioned(
    media, scripted_model: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    good = media("mp3", name="fine.mp3")
    result = run_cli(
        "caption", "http://example.com/a.mp4", str(good), "--out", str(tmp_path),
        "--model", str(scripted_model),
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("ERROR ")]
    assert line.startswith("ERROR http://example.com/a.mp4: invalid_event: unsupported source")
    assert _manifest(tmp_path, "a")["error"]["code"] == "invalid_event"
    assert _manifest(tmp_path, "fine")["status"] == "ready"
