"""Throughput on a 10-minute talk: `autocaption caption` against faster-whisper on its own.

Every contender runs as a whole process (imports, model load, decoding, writing) with the same
model and decoding; rounds alternate the contenders (A B C D A B C D ...) so drift in the
machine hits all of them alike.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from benchmarks.measure import (
    AUTOCAPTION,
    PYTHON,
    Row,
    Section,
    Spread,
    log,
    shown,
    timed_run,
)
from benchmarks.standalone_whisper import MODES
from tests.fixtures.media import make_long_audio
from tests.fixtures.whisper_model import build_whisper_model

TALK_S = 600
TARGET_RATIO = 1.3
OURS = "autocaption caption"


def caption_command(media: Path, out: Path, model: Path) -> list[str]:
    """`autocaption caption` as the throughput and memory benchmarks run it."""
    return [
        AUTOCAPTION, "caption", str(media), "--out", str(out), "--model", str(model),
        "--language", "en", "--beam-size", "5",
    ]  # fmt: skip


def caption_output(out: Path) -> dict[str, float]:
    """Words, cues and the last cue's end in what `autocaption caption` wrote under `out`."""
    transcript = json.loads(next(out.glob("*/transcript.json")).read_text(encoding="utf-8"))
    words = sum(len(s["words"]) for s in transcript["segments"])
    cues = vtt_cues(next(out.glob("*/*.vtt")))
    return {"segments": len(cues), "words": words, "last_end_s": cues[-1][1] if cues else 0.0}


def vtt_cues(path: Path) -> list[tuple[float, float]]:
    """(start, end) seconds of every cue of a WebVTT file."""
    cues = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if "-->" in line:
            start, end = (part.split()[0] for part in line.split("-->"))
            cues.append((vtt_seconds(start), vtt_seconds(end)))
    return cues


def vtt_seconds(stamp: str) -> float:
    """`hh:mm:ss.mmm` or `mm:ss.mmm` -> seconds."""
    seconds = 0.0
    for part in stamp.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


MODELS = {
    "tiny": "scripted; its other beams end soon, as a trained model's do",
    "tiny-endless": "scripted; its other beams never end, so every beam search runs to 448 "
    "tokens, as in the test models the issue's numbers were measured with",
}


def run(work: Path, rounds: int) -> Section:
    """Time each contender `rounds` times on the 10-minute talk, alternating, for each model."""
    media = make_long_audio(work, TALK_S, kind="flac")
    section = Section("throughput")
    for name, what in MODELS.items():
        model = build_whisper_model(work / f"model-{name}", dims="tiny", endless="endless" in name)
        compare(work, media, model, f"`{name}`: {what}", rounds, section)
    section.details += note()
    return section


def compare(
    work: Path, media: Path, model: Path, model_name: str, rounds: int, section: Section
) -> None:
    """Ours against each standalone mode with one model; rows and details into `section`."""
    out = work / "throughput-out"
    commands = {OURS: caption_command(media, out, model)}
    for mode in MODES:
        commands[f"faster-whisper {mode}"] = [
            PYTHON, "-m", "benchmarks.standalone_whisper", mode, str(media), str(model),
        ]  # fmt: skip
    walls: dict[str, list[float]] = {name: [] for name in commands}
    produced: dict[str, dict[str, float]] = {}
    for r in range(rounds):
        for name, command in commands.items():
            shutil.rmtree(out, ignore_errors=True)
            wall, stdout = timed_run(command)
            walls[name].append(wall)
            produced[name] = caption_output(out) if name == OURS else json.loads(stdout)
            log(f"throughput {model.name} round {r + 1}/{rounds}: {name} {wall:.1f} s")

    spreads = {name: Spread.of(values) for name, values in walls.items()}
    best = min((n for n in spreads if n != OURS), key=lambda n: spreads[n].median)
    ratio = spreads[best].median / spreads[OURS].median
    label = model.name.removeprefix("model-")
    section.commands += [shown(c) for c in commands.values()]
    section.rows.append(Row("throughput", f"{OURS}, 10 min talk, {label}", spreads[OURS].show()))
    section.rows.append(
        Row("throughput", f"best standalone ({best}), {label}", spreads[best].show())
    )
    section.rows.append(
        Row(
            "throughput",
            f"best standalone median / ours, {label}",
            f"{ratio:.2f}x",
            f">= {TARGET_RATIO}x",
            ratio >= TARGET_RATIO,
        )
    )
    section.details += [
        f"Model {model_name}. 10-minute talk (`{media.name}`, speech with 1.5 s pauses), "
        f"tiny dimensions (int8), {rounds} alternating round(s), wall time of the whole process.",
        "",
        "| contender | median | min | max | x realtime | cues/segments | words |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, spread in spreads.items():
        made = produced[name]
        section.details.append(
            f"| {name} | {spread.median:.1f} s | {spread.low:.1f} s | {spread.high:.1f} s "
            f"| {TALK_S / spread.median:.1f} | {made['segments']:.0f} | {made['words']:.0f} |"
        )
    section.details += [""]


def note() -> list[str]:
    """What the throughput tables count."""
    return [
        "The models are built offline as the tests build theirs: "
        "`.venv/bin/python -m tests.fixtures.whisper_model DIR --dims tiny` (add `--endless` "
        "for `tiny-endless`).",
        "",
        "Ours counts VTT cues (laid out for reading); faster-whisper counts its segments. The "
        "scripted model says the same 15 words per 30 s window, so words track the windows each "
        "contender decoded.",
    ]
