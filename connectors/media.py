"""Probe and decode media: the only place that runs ffmpeg or opens a media file.

`probe` reads the container with PyAV (the ffmpeg binary of imageio-ffmpeg has no ffprobe);
`decode_pcm` streams 16 kHz mono int16 PCM out of an ffmpeg subprocess, one block at a time, so
memory stays flat however long the file is. Bad inputs raise `CaptionError` with a code.
"""

from __future__ import annotations

import collections
import functools
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import av
import ffmpeg
import numpy as np

from schemas.errors import CaptionError, ErrorCode

SAMPLE_RATE = 16000
BYTES_PER_SAMPLE = 2  # int16 mono
DEFAULT_BLOCK_SAMPLES = SAMPLE_RATE * 30
# Decoding that reports errors and ends this much before the stated duration is a damaged file.
TRUNCATION_TOLERANCE_S = 1.0

# Sample 0 of the PCM is media time 0 and gaps in the audio timestamps become silence, so a time
# measured in samples is a time on the video's timeline in every container (captions that drift
# away from the speech are what users of Whisper tools complain of most). async=1 fills and trims
# only; it never stretches the audio.
_RESAMPLE_FILTER = f"aresample={SAMPLE_RATE}:async=1:first_pts=0"
# "[aist#0:1/aac @ 0x55d0] [dec:aac @ 0x55d1] " before a log line says nothing to a user.
_FFMPEG_LOG_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")


@dataclass(frozen=True)
class MediaInfo:
    """What `probe` learnt about a media file.

    `duration_s` is 0.0 when neither the container nor the audio stream states a duration; the
    decoded sample count is then the only measure. `audio_stream_index` counts audio streams
    only (ffmpeg's `0:a:N`), and points at the stream that decoding uses.
    """

    path: str
    duration_s: float
    format_name: str
    audio_streams: int
    audio_stream_index: int
    codec: str
    has_video: bool


@functools.cache
def ffmpeg_exe() -> str:
    """The ffmpeg binary: the system one when on PATH, else the one inside imageio-ffmpeg."""
    system = shutil.which("ffmpeg")
    if system:
        return system
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def audio_duration_s(samples: int) -> float:
    """Seconds of audio in `samples` samples at `SAMPLE_RATE`."""
    return samples / SAMPLE_RATE


def _local_path(path: str | Path) -> str:
    # An absolute path starts with "/", so neither PyAV nor ffmpeg can read a name such as
    # "concat:a|b" or "http:x.mp4" as a protocol.
    return os.path.abspath(os.fspath(path))


def _plural(n: int, word: str) -> str:
    return f"{n} {word} stream" + ("" if n == 1 else "s")


def probe(path: str | Path, *, max_duration_s: float | None = None) -> MediaInfo:
    """Open `path` and describe it; raise `CaptionError` when it cannot be captioned.

    Codes: `source_not_found` (no such file), `unsupported_media` (empty, not media, damaged),
    `no_audio_stream`, `media_too_long` (stated duration over `max_duration_s`).
    """
    local = _local_path(path)
    if not os.path.exists(local):
        raise CaptionError(ErrorCode.SOURCE_NOT_FOUND, f"no such file: {os.fspath(path)}")
    if not os.path.isfile(local):
        raise CaptionError(ErrorCode.UNSUPPORTED_MEDIA, "not a regular file")
    if os.path.getsize(local) == 0:
        raise CaptionError(ErrorCode.UNSUPPORTED_MEDIA, "the file is empty")
    try:
        container = av.open(local, mode="r")
    except av.error.PermissionError as exc:
        raise CaptionError(ErrorCode.SOURCE_NOT_FOUND, f"cannot read the file: {exc}") from exc
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise CaptionError(
            ErrorCode.UNSUPPORTED_MEDIA, f"not a media file ffmpeg can read ({reason})"
        ) from exc
    with container:
        return _describe(container, local, max_duration_s)


def _describe(
    container: av.container.InputContainer, local: str, max_duration_s: float | None
) -> MediaInfo:
    streams = list(container.streams)
    audio = list(container.streams.audio)
    video = list(container.streams.video)
    if not streams:
        raise CaptionError(ErrorCode.UNSUPPORTED_MEDIA, "not a media file (no streams found)")
    if not audio:
        kinds = collections.Counter(s.type for s in streams)
        found = ", ".join(_plural(n, kind) for kind, n in sorted(kinds.items()))
        raise CaptionError(ErrorCode.NO_AUDIO_STREAM, f"no audio stream in this file ({found})")

    index = next(
        (i for i, s in enumerate(audio) if s.disposition & av.stream.Disposition.default), 0
    )
    chosen = audio[index]
    codec = chosen.codec_context.name if chosen.codec_context else ""
    if not codec or not chosen.codec_context.sample_rate:
        raise CaptionError(
            ErrorCode.UNSUPPORTED_MEDIA, f"audio codec not supported ({codec or 'unknown'})"
        )

    duration_s = 0.0
    if container.duration and container.duration > 0:
        duration_s = container.duration / av.time_base
    elif chosen.duration and chosen.time_base:
        duration_s = float(chosen.duration * chosen.time_base)
    if max_duration_s is not None and duration_s > max_duration_s:
        raise CaptionError(
            ErrorCode.MEDIA_TOO_LONG,
            f"{duration_s:.0f} s of media is over the limit of {max_duration_s:.0f} s",
        )
    return MediaInfo(
        path=local,
        duration_s=duration_s,
        format_name=container.format.name,
        audio_streams=len(audio),
        audio_stream_index=index,
        codec=codec,
        has_video=bool(video),
    )


def decode_pcm(
    path: str | Path,
    info: MediaInfo | None = None,
    *,
    block_samples: int = DEFAULT_BLOCK_SAMPLES,
    max_duration_s: float | None = None,
) -> Generator[np.ndarray, None, None]:
    """Stream the default audio stream of `path` as 16 kHz mono int16 blocks.

    Every block holds exactly `block_samples` samples except the last, which is shorter (never
    empty). `info` (from `probe`) picks the audio stream; without it the file is probed first.
    Raises `CaptionError`: `unsupported_media` when ffmpeg fails, or reports errors and stops
    over `TRUNCATION_TOLERANCE_S` short of `info.duration_s`, raised after the blocks decoded so
    far were yielded (a damaged file is a failure even if part of it decoded); `media_too_long` once
    the decoded audio passes `max_duration_s` (for files whose duration is not stated). Closing
    the generator early stops and reaps the ffmpeg process.
    """
    if block_samples <= 0:
        raise ValueError("block_samples must be positive")
    if info is None:
        info = probe(path, max_duration_s=max_duration_s)
    max_samples = None if max_duration_s is None else round(max_duration_s * SAMPLE_RATE)
    process = _start_decoder(info.path, info.audio_stream_index)
    assert process.stdout is not None and process.stderr is not None
    stderr_tail: collections.deque[str] = collections.deque(maxlen=5)
    drain = threading.Thread(target=_drain, args=(process.stderr, stderr_tail), daemon=True)
    drain.start()
    try:
        total = 0
        while True:
            block = _read_block(process.stdout, block_samples)
            if block is None:
                break
            total += len(block)
            if max_samples is not None and total > max_samples:
                raise CaptionError(
                    ErrorCode.MEDIA_TOO_LONG,
                    f"the audio is longer than the limit of {max_samples // SAMPLE_RATE} s",
                )
            yield block
        returncode = process.wait()
        drain.join()
        if returncode != 0:
            reason = stderr_tail[-1] if stderr_tail else f"ffmpeg exited with {returncode}"
            raise CaptionError(ErrorCode.UNSUPPORTED_MEDIA, f"cannot decode the audio: {reason}")
        # ffmpeg exits 0 on a file cut short after its index (an mp4 with "faststart"): it
        # reports errors and stops early. Errors plus missing audio mean a damaged upload.
        decoded_s = audio_duration_s(total)
        if stderr_tail and decoded_s < info.duration_s - TRUNCATION_TOLERANCE_S:
            raise CaptionError(
                ErrorCode.UNSUPPORTED_MEDIA,
                f"the file is truncated or damaged: decoded {decoded_s:.1f} s of "
                f"{info.duration_s:.1f} s ({stderr_tail[-1]})",
            )
    finally:
        _stop(process, drain)


def _start_decoder(local_path: str, audio_index: int) -> subprocess.Popen[bytes]:
    stream = (
        ffmpeg.input(local_path)
        .output(
            "pipe:",
            format="s16le",
            acodec="pcm_s16le",
            ac=1,
            ar=SAMPLE_RATE,
            af=_RESAMPLE_FILTER,
            map=f"0:a:{audio_index}",
            vn=None,
            sn=None,
            dn=None,
        )
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
    )
    process: subprocess.Popen[bytes] = stream.run_async(
        cmd=ffmpeg_exe(), pipe_stdout=True, pipe_stderr=True
    )
    return process


def _read_block(stdout: IO[bytes], block_samples: int) -> np.ndarray | None:
    """Exactly `block_samples` samples, fewer at the end of the stream, None after it."""
    buffer = bytearray(block_samples * BYTES_PER_SAMPLE)
    view = memoryview(buffer)
    filled = 0
    while filled < len(buffer):
        n = stdout.readinto(view[filled:])  # type: ignore[attr-defined]
        if not n:
            break
        filled += n
    filled -= filled % BYTES_PER_SAMPLE  # ffmpeg writes whole samples; guard anyway
    if filled == 0:
        return None
    return np.frombuffer(buffer, dtype="<i2", count=filled // BYTES_PER_SAMPLE)


def _drain(stderr: IO[bytes], tail: collections.deque[str]) -> None:
    # Read stderr to its end in a thread, so a chatty ffmpeg never blocks on a full pipe.
    for raw in stderr:
        line = _FFMPEG_LOG_PREFIX.sub("", raw.decode("utf-8", "replace")).strip()
        if line:
            tail.append(line)


def _stop(process: subprocess.Popen[bytes], drain: threading.Thread) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()
    drain.join(timeout=5)
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
