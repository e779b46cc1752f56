"""Probe and decode real files with the real ffmpeg (no mocks).

Tolerances: decoded sample counts may differ from the stated duration, and between containers,
by at most `PADDING_TOLERANCE` samples (50 ms: more than one codec frame of priming or padding,
AAC 1024, Opus 960 and MP3 1152 samples at 48 kHz are 21-24 ms). Today every kind decodes to the
same count exactly; the tolerance keeps the tests true across ffmpeg versions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from connectors.media import (
    SAMPLE_RATE,
    MediaInfo,
    audio_duration_s,
    decode_pcm,
    ffmpeg_exe,
    probe,
)
from devtools.media import (
    LATE_AUDIO_S,
    clip_duration_s,
    expected_duration_s,
    make_long_audio,
    make_media,
)
from schemas.errors import CaptionError, ErrorCode

PADDING_TOLERANCE = SAMPLE_RATE // 20  # 50 ms
ALIGNMENT_TOLERANCE = SAMPLE_RATE // 100  # 10 ms
AUDIO_KINDS = ["mp4", "webm", "mkv", "mov", "mp3", "wav", "ogg", "flac", "m4a"]
VIDEO_KINDS = {"mp4", "webm", "mkv", "mov"}
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


def decode_all(path: Path, info: MediaInfo | None = None) -> np.ndarray:
    return np.concatenate(list(decode_pcm(path, info)))


def speech_onset(pcm: np.ndarray, threshold: int = 500) -> int:
    """Index of the first sample louder than `threshold`."""
    return int(np.argmax(np.abs(pcm) > threshold))


def lag_samples(x: np.ndarray, ref: np.ndarray) -> int:
    """How many samples `x` lags `ref` (cross-correlation peak)."""
    size = 1 << (len(x) + len(ref)).bit_length()  # a power of two: fast and no wrap-around
    spectrum = np.fft.rfft(x.astype(np.float64), size) * np.conj(
        np.fft.rfft(ref.astype(np.float64), size)
    )
    lag = int(np.argmax(np.fft.irfft(spectrum, size)))
    return lag if lag < size // 2 else lag - size


def ffmpeg_children() -> list[int]:
    """Pids of this process's children (zombies included) whose command is ffmpeg."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == os.getpid() and "ffmpeg" in comm:
            found.append(int(entry.name))
    return found


# probe


def test_ffmpeg_exe_is_an_executable_file() -> None:
    exe = ffmpeg_exe()
    assert os.path.isfile(exe) and os.access(exe, os.X_OK)


@pytest.mark.parametrize("kind", AUDIO_KINDS)
def test_probe_describes_every_good_kind(kind: str, media_dir: Path) -> None:
    info = probe(make_media(kind, media_dir))
    assert info.duration_s == pytest.approx(expected_duration_s("speech_a"), abs=0.05)
    assert (info.audio_streams, info.audio_stream_index) == (1, 0)
    assert info.has_video == (kind in VIDEO_KINDS)
    assert info.codec and info.format_name
    assert os.path.isabs(info.path)


def test_probe_picks_the_default_audio_stream_not_the_first(media_dir: Path) -> None:
    info = probe(make_media("two_audio_mp4", media_dir))
    assert (info.audio_streams, info.audio_stream_index) == (2, 1)
    # Stream a:0 is a 440 Hz tone; the default stream a:1 is the same speech as the plain mp4.
    pcm = decode_all(make_media("two_audio_mp4", media_dir), info).astype(np.float64)
    speech = decode_all(make_media("mp4", media_dir)).astype(np.float64)
    correlation = pcm @ speech / np.linalg.norm(pcm) / np.linalg.norm(speech)
    assert correlation > 0.95


@pytest.mark.parametrize("kind", ["empty", "text_mp4", "random_bytes", "truncated_mp4"])
def test_probe_rejects_files_that_are_not_media(kind: str, media_dir: Path) -> None:
    with pytest.raises(CaptionError) as caught:
        probe(make_media(kind, media_dir))
    assert caught.value.code == ErrorCode.UNSUPPORTED_MEDIA


def test_truncated_file_with_its_index_fails_at_decode(media_dir: Path) -> None:
    path = make_media("truncated_faststart_mp4", media_dir)
    info = probe(path)  # the index is intact, so the container opens
    with pytest.raises(CaptionError) as caught:
        for _ in decode_pcm(path, info):
            pass
    assert caught.value.code == ErrorCode.UNSUPPORTED_MEDIA
    assert "truncated" in caught.value.message
    assert not ffmpeg_children()


def test_video_without_audio_is_no_audio_stream(media_dir: Path) -> None:
    with pytest.raises(CaptionError) as caught:
        probe(make_media("no_audio_mp4", media_dir))
    assert caught.value.code == ErrorCode.NO_AUDIO_STREAM
    assert caught.value.message == "no audio stream in this file (1 video stream)"


def test_missing_file_is_source_not_found(tmp_path: Path) -> None:
    with pytest.raises(CaptionError) as caught:
        probe(tmp_path / "nowhere.mp4")
    assert caught.value.code == ErrorCode.SOURCE_NOT_FOUND


def test_directory_is_unsupported_media(tmp_path: Path) -> None:
    with pytest.raises(CaptionError) as caught:
        probe(tmp_path)
    assert caught.value.code == ErrorCode.UNSUPPORTED_MEDIA


def test_media_over_the_limit_is_media_too_long(media_dir: Path) -> None:
    path = make_media("mp4", media_dir)
    with pytest.raises(CaptionError) as caught:
        probe(path, max_duration_s=5.0)
    assert caught.value.code == ErrorCode.MEDIA_TOO_LONG
    assert probe(path, max_duration_s=60.0).duration_s < 60.0


def test_decode_stops_at_the_limit_when_duration_is_not_trusted(media_dir: Path) -> None:
    path = make_media("wav", media_dir)
    with pytest.raises(CaptionError) as caught:
        for _ in decode_pcm(path, probe(path), block_samples=SAMPLE_RATE, max_duration_s=3.0):
            pass
    assert caught.value.code == ErrorCode.MEDIA_TOO_LONG
    assert not ffmpeg_children()


@pytest.mark.parametrize("name", ["Grüße aus Köln.mp4", "rtmp: not a url.mkv", "-dash.webm"])
def test_names_with_spaces_colons_and_non_ascii_letters(name: str, media_dir: Path) -> None:
    kind = name.rsplit(".", 1)[1]
    path = make_media(kind, media_dir, clip="speech_b", name=name)
    pcm = decode_all(path, probe(path))
    assert abs(len(pcm) - round(clip_duration_s("speech_b") * SAMPLE_RATE)) <= PADDING_TOLERANCE


# decode_pcm


@pytest.mark.parametrize("kind", AUDIO_KINDS)
def test_decode_gives_16k_int16_with_exact_sample_counts(kind: str, media_dir: Path) -> None:
    path = make_media(kind, media_dir)
    info = probe(path)
    pcm = decode_all(path, info)
    assert pcm.dtype == np.int16 and pcm.ndim == 1
    assert abs(len(pcm) - round(info.duration_s * SAMPLE_RATE)) <= PADDING_TOLERANCE


def test_every_container_gives_the_same_pcm_timeline(media_dir: Path) -> None:
    reference = decode_all(make_media("wav", media_dir))
    for kind in AUDIO_KINDS:
        pcm = decode_all(make_media(kind, media_dir))
        assert abs(len(pcm) - len(reference)) <= PADDING_TOLERANCE, kind
        assert abs(lag_samples(pcm, reference)) <= ALIGNMENT_TOLERANCE, kind


def test_intro_silence_moves_the_speech_by_exactly_that_much(media_dir: Path) -> None:
    plain = decode_all(make_media("mp4", media_dir))
    late = decode_all(make_media("mp4", media_dir, intro_silence_s=5.0))
    assert len(late) - len(plain) == pytest.approx(5 * SAMPLE_RATE, abs=PADDING_TOLERANCE)
    shift = speech_onset(late) - speech_onset(plain)
    assert shift == pytest.approx(5 * SAMPLE_RATE, abs=ALIGNMENT_TOLERANCE)


def test_audio_that_starts_late_keeps_its_place_on_the_timeline(media_dir: Path) -> None:
    plain = decode_all(make_media("mkv", media_dir))
    late = decode_all(make_media("late_audio_mkv", media_dir))
    shift = speech_onset(late) - speech_onset(plain)
    assert shift == pytest.approx(LATE_AUDIO_S * SAMPLE_RATE, abs=ALIGNMENT_TOLERANCE)


def test_silent_track_decodes_to_silence(media_dir: Path) -> None:
    pcm = decode_all(make_media("silence_mp4", media_dir))
    assert len(pcm) == pytest.approx(expected_duration_s() * SAMPLE_RATE, abs=PADDING_TOLERANCE)
    assert int(np.abs(pcm).max()) < 50


def test_blocks_are_exact_except_the_last(media_dir: Path) -> None:
    path = make_media("mp3", media_dir)
    blocks = list(decode_pcm(path, block_samples=SAMPLE_RATE))
    assert all(len(block) == SAMPLE_RATE for block in blocks[:-1])
    assert 0 < len(blocks[-1]) <= SAMPLE_RATE
    assert sum(map(len, blocks)) == len(decode_all(path))
    blocks[0][0] = 1  # blocks are the caller's to change


def test_closing_the_generator_early_leaves_no_ffmpeg_process(media_dir: Path) -> None:
    path = make_media("webm", media_dir)
    blocks = decode_pcm(path, block_samples=4000)
    next(blocks)
    assert ffmpeg_children()  # the decoder is running
    blocks.close()
    assert not ffmpeg_children()


def test_audio_duration_s_counts_samples_at_16k() -> None:
    assert audio_duration_s(SAMPLE_RATE * 90 + 8000) == 90.5


def test_decoding_twenty_minutes_keeps_memory_flat(tmp_path: Path) -> None:
    seconds = 20 * 60
    path = make_long_audio(tmp_path, seconds)
    script = textwrap.dedent(
        f"""
        import json, resource
        from connectors.media import decode_pcm, probe
        info = probe({str(path)!r})
        next(iter(decode_pcm({str(path)!r}, info, block_samples=16000)))  # warm up imports
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        samples = sum(len(block) for block in decode_pcm({str(path)!r}, info))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        ffmpeg = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(json.dumps({{"samples": samples, "growth_kb": after - before, "ffmpeg_kb": ffmpeg}}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["samples"] == pytest.approx(seconds * SAMPLE_RATE, abs=PADDING_TOLERANCE)
    # All 20 minutes at once would be 38 MB of int16; a 30 s block is under 1 MB.
    assert report["growth_kb"] < 16 * 1024, report
