"""`autocaption caption INPUT... --out DIR`: caption files in one Beam pipeline."""

from __future__ import annotations

import argparse
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
    add_common_options(caption)
    caption.set_defaults(run=run, parser=caption, takes_beam_options=True)


def run(args: argparse.Namespace, beam_args: list[str]) -> int:
    """Caption every input; one `ERROR` line per failed input; exit 1 when any failed."""
    from connectors.storage.layout import manifest_key
    from pipelines.caption_files import caption_files, refused_input, requests_for_files, source_uri
    from schemas.manifest import Manifest

    store = open_storage(args.out, "--out")
    args.model, args.model_label = resolve_model(args.model)
    options = replace(caption_options(args, store.url), captions_root="")
    refused = {given: refused_input(given) for given in args.inputs}
    requests = requests_for_files([given for given, why in refused.items() if why is None])
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
        given_as = {source_uri(i): i for i in reversed(args.inputs)}  # as the user typed it
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
        if progress:
            progress.done(len(requests) - failed, failed, time.monotonic() - started)
    return 1 if failed else 0
