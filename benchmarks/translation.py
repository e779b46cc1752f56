"""What Brazilian Portuguese subtitles cost and what translating whole sentences buys.

On the ten-minute talk, with the real Whisper base weights and Mozilla's real English -> pt-BR
model (`firefox`):

- `autocaption caption` without and with `--translate-to pt-BR`: wall time and peak RSS (both
  models loaded);
- the translation itself, timed alone on the talk's transcript: sentences a second, and its
  share of the transcription time (goal: at most 5 % on a CPU);
- faithfulness: chrF of the subtitles made sentence by sentence, and of the same English cues
  translated one cue at a time (as tools that translate subtitle files do), against a reference
  made once by the same model from the script's own sentences.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from benchmarks.measure import Row, Section, log, peak_of_run, shown
from benchmarks.throughput import caption_command
from captions.reading import read_caption_file
from captions.rules import CaptionRules
from captions.translation import sentences_of
from connectors.translators import TranslatorPool
from connectors.translators.firefox import FirefoxSpec
from connectors.translators.routes import route_for
from connectors.weights import fetch_base_from_pypi
from devtools.scoring import chrf
from devtools.speech import longform_talk, paragraphs
from library.track_meta import without_meta
from library.translations import TranslationRequest, lay_out, translate_requests
from schemas.transcript import Transcript

SHARE_GOAL = 0.05
TARGET = "pt-BR"


def run(work: Path) -> Section:
    model = fetch_base_from_pypi()
    talk = longform_talk()
    section = Section("translation")
    out = work / "translation-out"
    plain = caption_command([talk], out, model)
    translated = [*plain, "--translate-to", TARGET]
    walls, rss = {}, {}
    for name, command in (("captions only", plain), (f"captions + {TARGET}", translated)):
        shutil.rmtree(out, ignore_errors=True)
        rss[name], walls[name], code = peak_of_run(command)
        if code != 0:
            raise RuntimeError(f"{shown(command)} exited {code}")
        log(f"translation: {name} {walls[name]:.1f} s, peak RSS {rss[name]:.0f} MiB")
        section.commands.append(shown(command))
    folder = out / talk.stem
    english_vtt = (folder / "en.vtt").read_text(encoding="utf-8")
    subtitles = (folder / f"{TARGET}.vtt").read_text(encoding="utf-8")
    transcript = json.loads((folder / "transcript.json").read_text(encoding="utf-8"))

    # the translation alone, on the transcript's sentences
    sentences = tuple(sentences_of(Transcript.from_dict(transcript).words))
    spec = FirefoxSpec()
    pool = TranslatorPool([spec])
    resident = _rss_mib()
    started = time.perf_counter()
    translator = pool.get(spec)
    translator.translate(["Warm up."], "en", TARGET)
    load_s = time.perf_counter() - started
    route = route_for("en", TARGET, [spec])
    assert route is not None
    started = time.perf_counter()
    (done,) = translate_requests([TranslationRequest(TARGET, route, sentences)], pool)
    cues = lay_out(done, CaptionRules(), transcript["duration_s"])
    translate_s = time.perf_counter() - started
    translator_mib = _rss_mib() - resident
    transcription_s = walls["captions only"]
    share = (translate_s + load_s) / transcription_s
    section.rows += [
        Row(
            "translation",
            f"10-minute talk: {TARGET} track's time / transcription time",
            f"{share:.1%} ({translate_s:.2f} s for {len(sentences)} sentences, "
            f"{len(cues)} cues, + {load_s:.2f} s load; transcription {transcription_s:.1f} s)",
            f"<= {SHARE_GOAL:.0%}",
            share <= SHARE_GOAL,
        ),
        Row(
            "translation",
            "sentences a second (2 threads of the engine)",
            f"{len(sentences) / translate_s:.0f}",
        ),
        Row(
            "translation",
            f"`caption` wall time, captions only -> + {TARGET}",
            " -> ".join(f"{walls[n]:.1f} s" for n in walls),
        ),
        Row(
            "memory",
            f"peak RSS of `caption`, captions only -> + {TARGET} (both models loaded)",
            " -> ".join(f"{rss[n]:.0f} MiB" for n in rss),
        ),
        Row(
            "memory",
            f"resident memory the {TARGET} translator adds (loaded, the talk translated)",
            f"{translator_mib:.0f} MiB",
        ),
    ]

    # faithfulness: sentence by sentence against cue by cue
    script_sentences = [s for block in paragraphs() for s in block]
    reference = " ".join(translator.translate(script_sentences, "en", TARGET))
    english_cues = [
        " ".join(c.lines) for c in read_caption_file(without_meta(english_vtt).encode())
    ]
    cue_by_cue = " ".join(translator.translate(english_cues, "en", TARGET))
    sentence_text = " ".join(
        " ".join(c.lines) for c in read_caption_file(without_meta(subtitles).encode())
    )
    ours, theirs = chrf(reference, sentence_text), chrf(reference, cue_by_cue)
    section.rows.append(
        Row(
            "accuracy",
            f"chrF against the script translated sentence by sentence: ours (sentences) vs "
            f"cue by cue ({len(english_cues)} cues)",
            f"{ours:.1f} vs {theirs:.1f}",
            "ours >= cue by cue",
            ours >= theirs,
        )
    )
    section.details += [
        "The reference is the talk's script (its own sentences, as written) translated by the "
        "same model; both candidates start from what Whisper base heard, so neither reaches 100: "
        "the gap between them is what translating whole sentences instead of cue fragments buys. "
        f"Sentences: {len(sentences)} from the transcript, {len(script_sentences)} in the script.",
        "The translation's own time, its memory and both chrF figures are measured in the "
        "benchmark's process (`.venv/bin/python -m benchmarks.run --only translation`), on the "
        "transcript the second command wrote; the two commands give the wall times and peak RSS.",
    ]
    return section


def _rss_mib() -> float:
    """This process's resident memory now, in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


if __name__ == "__main__":  # python -m benchmarks.translation WORK_DIR
    print(run(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/autocaption-bench")))
