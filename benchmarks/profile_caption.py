"""Where `autocaption caption` spends its time on the 10-minute talk (cProfile, in-process).

    .venv/bin/python -m benchmarks.profile_caption

The Beam local runner executes bundles in the calling thread, so one cProfile sees the decoder,
the VAD, the model calls (CTranslate2 methods appear as built-in calls) and Beam's own work.
cProfile inflates pure-Python time a little; the model calls are long C calls and barely moved.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.measure import Row, Section, log, shown, test_model
from benchmarks.throughput import TALK_S, caption_command
from tests.fixtures.media import make_long_audio

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


def profile(work: Path) -> tuple[list[str], float, dict[str, float], str]:
    """(command, wall s, seconds per part, top functions by own time) of one profiled run."""
    from pipelines.cli import main

    media = make_long_audio(work, TALK_S, kind="flac")
    out = work / "profile-out"
    shutil.rmtree(out, ignore_errors=True)
    command = caption_command(media, out, test_model(work, "tiny"))
    profiler = cProfile.Profile()
    started = time.monotonic()
    profiler.enable()
    code = main(command[1:])
    profiler.disable()
    wall = time.monotonic() - started
    if code != 0:
        raise RuntimeError(f"profiled caption run exited {code}")
    stats = pstats.Stats(profiler)
    parts = {name: cumulative(stats, *match) for name, match in PARTS.items()}
    top = io.StringIO()
    pstats.Stats(profiler, stream=top).sort_stats("tottime").print_stats(12)
    return command, wall, parts, top.getvalue()


def run(work: Path) -> Section:
    """The profile as report rows and a share table."""
    command, wall, parts, top = profile(work)
    log(f"profile: {wall:.1f} s under cProfile")
    rest = wall - sum(parts.values())
    section = Section("profile", commands=[f"cProfile of {shown(command)} (in-process)"])
    generate = parts["CTranslate2 generate (beam search)"]
    section.rows.append(
        Row("profile", "share of generate in ours (10 min)", f"{100 * generate / wall:.0f} %")
    )
    section.details += [
        f"One run of ours on the 10-minute talk under cProfile, in-process: {wall:.1f} s.",
        "",
        "| part | seconds | share |",
        "| --- | --- | --- |",
    ]
    for name, seconds in [*parts.items(), ("Beam, layout, writing, the rest", rest)]:
        section.details.append(f"| {name} | {seconds:.2f} | {100 * seconds / wall:.1f} % |")
    lines = [line for line in top.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    section.details += ["", "Top functions by own time:", "", "```", *lines[start:], "```"]
    return section


def main() -> None:
    section = run(Path(tempfile.mkdtemp(prefix="autocaption-profile-")))
    print("\n".join(section.details))


if __name__ == "__main__":
    main()
