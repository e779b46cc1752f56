"""`autocaption caption INPUT... --out DIR`: caption files in one Beam pipeline."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from typing import Any

from pipelines.models import resolve_model
from pipelines.options import add_common_options, caption_options, make_pipeline, open_storage
from pipelines.progress_bar import show_progress


def add_parser(commands: Any) -> None:
    caption = commands.add_parser(
        "caption",
        help="caption local files in one Beam pipeline",
        description="Caption media files: DIR/<video_id>/ gets <lang>.vtt, <lang>.srt, "
        "transcript.json and manifest.json (written last). Exit 0 only if every input succeeded.",
    )
    caption.add_argument("inputs", nargs="+", metavar="INPUT", help="media files")
    caption.add_argument(
        "--out", required=True, metavar="DIR", help="output folder (or a storage URL)"
    )
    words = caption.add_mutually_exclusive_group()
    words.add_argument(
        "--transcript",
        metavar="FILE",
        help="the words of the (one) input as people wrote them: plain UTF-8 text, WebVTT or "
        "SubRip (its times are ignored). The track then holds exactly these words, timed by "
        "aligning them to the speech; the manifest says how many were aligned and interpolated",
    )
    words.add_argument(
        "--transcripts-beside",
        action="store_true",
        help="for each input, align the transcript beside it if there is one: the same name "
        "with .txt, .vtt or .srt (the first found, in that order)",
    )
    caption.add_argument(
        "--keep-cues",
        action="store_true",
        help="with WebVTT or SubRip transcripts: keep their cues as written (text, lines, "
        "markup) and set only their times (a re-cut video); default, and for plain text: lay "
        "the words out as new cues",
    )
    add_common_options(caption)
    caption.set_defaults(run=run, parser=caption, takes_beam_options=True)


TRANSCRIPT_SUFFIXES = (".txt", ".vtt", ".srt")


def transcript_beside(given: str) -> str | None:
    """The transcript file beside a local input (`talk.mp4` -> `talk.txt`, `.vtt`, `.srt`)."""
    from pathlib import Path

    if "://" in given:
        return None
    media = Path(given)
    for suffix in TRANSCRIPT_SUFFIXES:
        candidate = media.with_suffix(suffix)
        if candidate != media and candidate.is_file():
            return str(candidate)
    return None


def with_transcript(request: Any, args: argparse.Namespace, given: str) -> Any:
    """The upload request of the input `given` with the transcript the options give it, if
    any (`--keep-cues` applies to caption files: plain text has no cues to keep)."""
    from pipelines.caption_files import source_uri

    script = args.transcript or (transcript_beside(given) if args.transcripts_beside else None)
    if script is None:
        return request
    keeps = bool(args.keep_cues) and script.lower().endswith((".vtt", ".srt"))
    return replace(request, transcript=source_uri(script), keep_cues=keeps)


def run(args: argparse.Namespace, beam_args: list[str]) -> int:
    """Caption every input; one `ERROR` line per failed input; exit 1 when any failed."""
    from connectors.storage.layout import manifest_key
    from pipelines.caption_files import caption_files, refused_input, requests_for_files, source_uri
    from schemas.manifest import Manifest

    if args.transcript is not None and len(args.inputs) != 1:
        args.parser.error("--transcript goes with one input (for many: --transcripts-beside)")
    if args.keep_cues and args.transcript is None and not args.transcripts_beside:
        args.parser.error("--keep-cues goes with --transcript or --transcripts-beside")
    if args.transcript is not None and not os.path.isfile(args.transcript):
        args.parser.error(f"--transcript: no such file: {args.transcript}")
    store = open_storage(args.out, "--out")
    args.model, args.model_label = resolve_model(args.model)
    options = replace(caption_options(args, store.url), captions_root="")
    refused = {given: refused_input(given) for given in args.inputs}
    requests = requests_for_files([given for given, why in refused.items() if why is None])
    given_as = {source_uri(i): i for i in reversed(args.inputs)}  # as the user typed it
    requests = [with_transcript(r, args, given_as[r.source]) for r in requests]
    taken = {r.video_id for r in requests}
    for failure in refused.values():
        if failure is not None and failure.video_id not in taken:  # a name of its own only
            manifest = Manifest.failed(failure, model=args.model_label)
            store.put_bytes(
                manifest_key(manifest.video_id, root=""),
                manifest.to_json().encode("utf-8"),
                "application/json",
            )
    started = time.monotonic()
    with show_progress(len(requests)) as progress:
        pipeline = make_pipeline(args.runner, beam_args)
        caption_files(pipeline, requests, options)
        pipeline.run().wait_until_finish()

        failed = 0
        for given, failure in refused.items():
            if failure is not None:
                failed += 1
                print(f"ERROR {given}: {failure.code}: {failure.message}", file=sys.stderr)
        for request in requests:
            given = given_as[request.source]
            key = manifest_key(request.video_id, root="")
            if not store.exists(key):
                failed += 1
                print(f"ERROR {given}: internal: no manifest was written", file=sys.stderr)
                continue
            manifest = Manifest.from_json(store.get_bytes(key))
            if manifest.status != "ready":
                failed += 1
                error = manifest.error
                code, message = (error.code, error.message) if error else ("internal", "unknown")
                print(f"ERROR {given}: {code}: {message}", file=sys.stderr)
            elif manifest.alignment is not None:
                print(f"{given}: {alignment_summary(manifest.alignment)}", file=sys.stderr)
        if progress:
            progress.done(len(requests) - failed, failed, time.monotonic() - started)
    return 1 if failed else 0


def alignment_summary(alignment: dict[str, Any]) -> str:
    """One line on what aligning a supplied transcript did."""
    line = (
        f"{alignment['words']} words of the transcript: {alignment['aligned']} aligned to the "
        f"speech, {alignment['interpolated']} interpolated (no speech heard for them)"
    )
    gaps = alignment["uncaptioned"]
    if gaps:
        line += f"; {len(gaps)} stretch(es) of speech have no words in it, left uncaptioned: "
        line += ", ".join(f"{g['start']:.1f}-{g['end']:.1f} s" for g in gaps[:5])
        line += " ..." if len(gaps) > 5 else ""
    return line
