"""Peak memory of `autocaption caption` on one long file, against its length.

    .venv/bin/python -m benchmarks.memory --seconds 600 3600 7200

Builds talks of the given lengths from the test clips (speech with pauses), builds the offline
test model, runs the real CLI on each in a fresh process and prints the peak resident memory of
that process (ru_maxrss of the child) with the wall time. Flat numbers mean streamed audio.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.fixtures.media import make_long_audio
from tests.fixtures.whisper_model import build_whisper_model


def peak_of_run(command: list[str]) -> tuple[float, float, int]:
    """(peak RSS in MiB, wall seconds, exit code) of a command run in a child process.

    ru_maxrss of RUSAGE_CHILDREN is the largest child so far, so each run gets its own
    measuring process."""
    probe = (
        "import resource, subprocess, sys, time; t = time.time(); "
        "rc = subprocess.run(sys.argv[1:], capture_output=True).returncode; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.time() - t, rc)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *command], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]) / 1024, float(out[1]), int(out[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, nargs="+", default=[600, 3600])
    parser.add_argument("--dims", default="micro", choices=("micro", "tiny"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="autocaption-memory-"))
    model = build_whisper_model(work / "model", dims=args.dims)
    print(f"machine: {platform.machine()}, {platform.python_version()}, model dims {args.dims}")
    print("| audio | peak RSS | wall | exit |")
    print("| --- | --- | --- | --- |")
    for seconds in args.seconds:
        media = make_long_audio(work, seconds, kind="flac")
        command = [
            sys.executable,
            "-m",
            "pipelines.cli",
            "caption",
            str(media),
            "--out",
            str(work / "out"),
            "--model",
            str(model),
        ]
        peak, wall, code = peak_of_run(command)
        print(f"| {seconds / 60:.0f} min | {peak:.0f} MiB | {wall:.1f} s | {code} |", flush=True)
    print(f"(peak RSS of the autocaption process; files in {work})")


if __name__ == "__main__":
    main()
