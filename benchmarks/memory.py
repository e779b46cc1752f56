"""Peak memory of `autocaption caption` on one long file, and where its last cue lands.

    .venv/bin/python -m benchmarks.memory --seconds 600 3600 7200

Builds talks of the given lengths from the test clips (speech with pauses), builds the offline
test model, runs the real CLI on each in a fresh process and prints the peak resident memory of
that process (ru_maxrss of the child) with the wall time. Flat numbers mean streamed audio.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from benchmarks.measure import Row, Section, log, peak_of_run, shown, test_model
from benchmarks.throughput import caption_command, caption_output
from tests.fixtures.media import make_long_audio

LONG_S = 7200
TARGET_PEAK_MIB = 1024.0


def measure(work: Path, seconds: int, dims: str) -> tuple[list[str], float, float, int, float]:
    """(command, peak MiB, wall s, exit code, last cue end s) of captioning a `seconds` talk."""
    media = make_long_audio(work, seconds, kind="flac")
    out = work / f"memory-out-{seconds}"
    shutil.rmtree(out, ignore_errors=True)
    command = caption_command(media, out, test_model(work, dims))
    peak, wall, code = peak_of_run(command)
    last_end = caption_output(out)["last_end_s"] if code == 0 else 0.0
    return command, peak, wall, code, last_end


def run(work: Path) -> Section:
    """The 2-hour run: peak RSS against 1 GiB, and the last cue inside the last minute."""
    command, peak, wall, code, last_end = measure(work, LONG_S, "tiny")
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
        f"2-hour talk (FLAC), tiny-dimension model; peak = ru_maxrss of the `autocaption` child "
        f"process (its own measuring parent); {LONG_S / wall:.0f}x realtime; last cue ends at "
        f"{last_end:.1f} s ({'inside' if in_last_minute else 'outside'} the last minute)."
    )
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, nargs="+", default=[600, 3600])
    parser.add_argument("--dims", default="micro", choices=("micro", "tiny"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="autocaption-memory-"))
    print(f"model dims {args.dims}")
    print("| audio | peak RSS | wall | exit | last cue ends |")
    print("| --- | --- | --- | --- | --- |")
    for seconds in args.seconds:
        _, peak, wall, code, last_end = measure(work, seconds, args.dims)
        print(
            f"| {seconds / 60:.0f} min | {peak:.0f} MiB | {wall:.1f} s | {code} "
            f"| {last_end:.1f} s |",
            flush=True,
        )
    print(f"(peak RSS of the autocaption process; files in {work})")


if __name__ == "__main__":
    main()
