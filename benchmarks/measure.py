"""What every benchmark shares: result rows, spreads, timed child processes, the machine."""

from __future__ import annotations

import functools
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from devtools.scripted_whisper import build_whisper_model

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
AUTOCAPTION = str(Path(sys.executable).parent / "autocaption")


@dataclass(frozen=True)
class Spread:
    """Median, min and max of repeated measurements."""

    median: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values), len(values))

    def show(self, unit: str = "s", digits: int = 2) -> str:
        if self.count == 1:
            return f"{self.median:.{digits}f} {unit}"
        return (
            f"{self.median:.{digits}f} {unit} ({self.low:.{digits}f} to {self.high:.{digits}f}, "
            f"n={self.count})"
        )


@dataclass(frozen=True)
class Row:
    """One line of the summary table: a measure beside its target."""

    benchmark: str
    measure: str
    value: str
    target: str = ""
    passed: bool | None = None  # None: no target

    @property
    def verdict(self) -> str:
        return "" if self.passed is None else ("pass" if self.passed else "miss")


@dataclass
class Section:
    """What one benchmark found: summary rows, markdown details and the commands it ran."""

    name: str
    rows: list[Row] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, q in [0, 1]."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def shown(command: Sequence[str]) -> str:
    """A command as a reader would type it: the venv's tools by their relative names, paths
    of this checkout relative to it, and the user's cache as `~/.cache`."""
    return shlex.join(without_machine_paths(c) for c in command)


def without_machine_paths(text: str) -> str:
    """`text` with this machine's paths made ones any reader has: the venv and the checkout
    relative, the home folder `~`."""
    venv_bin = str(Path(sys.executable).parent) + os.sep
    repo = str(Path(__file__).resolve().parents[1]) + os.sep
    return (
        text.replace(venv_bin, ".venv/bin/")
        .replace(repo, "")
        .replace(os.path.expanduser("~") + os.sep, "~/")
    )


def timed_run(command: Sequence[str]) -> tuple[float, str]:
    """(wall seconds, stdout) of a command run to completion in a child process."""
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"{shown(command)} exited {result.returncode}: {result.stderr[-2000:]}")
    return wall, result.stdout


def peak_of_run(command: Sequence[str]) -> tuple[float, float, int]:
    """(peak RSS in MiB, wall seconds, exit code) of a command run in a child process.

    ru_maxrss of RUSAGE_CHILDREN is the largest child so far, so each run gets its own
    measuring process."""
    probe = (
        "import resource, subprocess, sys, time; t = time.time(); "
        "rc = subprocess.run(sys.argv[1:], capture_output=True).returncode; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.time() - t, rc)"
    )
    out = subprocess.run(
        [PYTHON, "-c", probe, *command], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.split()
    return int(out[0]) / 1024, float(out[1]), int(out[2])


@functools.cache
def test_model(work: Path, dims: str) -> Path:
    """The offline-built scripted model of these dimensions (int8), built once per work folder."""
    return build_whisper_model(work / f"model-{dims}", dims=dims)


def machine() -> dict[str, str]:
    """CPU model, cores, memory and the versions that matter, for the report."""
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    info = {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{mem_kib / 2**20:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": platform.python_version(),
    }
    for package in ("faster-whisper", "ctranslate2", "apache-beam"):
        info[package] = metadata.version(package)
    info["GPU"] = "none lent on this task"
    return info


def log(message: str) -> None:
    """Progress on stderr, so stdout keeps only the table."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
