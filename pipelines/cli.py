"""The `autocaption` command.

Exit codes: 0 every input captioned; 1 some input failed (one `ERROR` line each on stderr);
2 bad usage or configuration (one line); 3 an internal error (a bug: one line, and the
traceback with AUTOCAPTION_DEBUG=1).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import replace
from typing import Any


class _BeamImportNoise(logging.Filter):
    """Beam warns about optional Google Cloud clients on import; they are not ours to need."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "apitools not found" not in record.getMessage()


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(levelname)s %(name)s: %(message)s", force=True
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(_BeamImportNoise())
    # Beam is chatty at INFO; keep its voice at our level or quieter.
    logging.getLogger("apache_beam").setLevel(max(logging.WARNING, logging.getLogger().level))


# Before Beam is imported (by the next line), so its import-time noise meets our filter.
_configure_logging(os.environ.get("AUTOCAPTION_LOG_LEVEL", "WARNING"))

from pipelines.options import (  # noqa: E402
    UsageError,
    add_common_options,
    caption_options,
    make_pipeline,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    _configure_logging(args.log_level)
    try:
        return int(args.run(args, beam_args))
    except UsageError as exc:
        print(f"autocaption: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("autocaption: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so in one line, keep the traceback for debugging
        if os.environ.get("AUTOCAPTION_DEBUG"):
            traceback.print_exc()
        print(f"autocaption: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autocaption",
        description="Automatic captions for video uploads (Apache Beam + faster-whisper).",
        epilog="Unknown --options are passed to Beam as pipeline options.",
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("AUTOCAPTION_LOG_LEVEL", "WARNING"),
        help="log level for autocaption and Beam (default: WARNING)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
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
    caption.set_defaults(run=run_caption)
    return parser


def resolve_model(name_or_path: str) -> tuple[str, str]:
    """(path to load, label for manifests). A name is downloaded now, so a missing network is
    one clear error before any work starts, not a crash inside a worker."""
    if os.path.isdir(name_or_path):
        if not os.path.isfile(os.path.join(name_or_path, "model.bin")):
            raise UsageError(f"--model: {name_or_path} has no model.bin (not a CTranslate2 model)")
        return os.path.abspath(name_or_path), os.path.basename(os.path.normpath(name_or_path))
    if os.sep in name_or_path or name_or_path.startswith("."):
        raise UsageError(f"--model: no such folder {name_or_path}")
    from faster_whisper.utils import download_model

    try:
        return download_model(name_or_path), name_or_path
    except ValueError as exc:
        raise UsageError(f"--model: {exc}") from None
    except Exception as exc:
        raise UsageError(
            f"--model: could not download {name_or_path!r} ({type(exc).__name__}); "
            "offline, pass a local CTranslate2 folder: --model /path/to/model"
        ) from None


def run_caption(args: argparse.Namespace, beam_args: list[str]) -> int:
    from connectors.storage import manifest_key, open_store
    from pipelines.caption_files import caption_files, requests_for_files, source_uri
    from schemas.manifest import Manifest
    from transforms import caption

    try:
        store = open_store(args.out)
    except ValueError as exc:
        raise UsageError(f"--out: {exc}") from None
    args.model, args.model_label = resolve_model(args.model)
    options = replace(caption_options(args, store.url), captions_root="")
    requests = requests_for_files(args.inputs)
    progress = Progress(len(requests)) if sys.stderr.isatty() else None
    caption.progress_listener = progress.on_event if progress else None
    started = time.monotonic()
    try:
        pipeline = make_pipeline(args.runner, beam_args)
        caption_files(pipeline, requests, options)
        pipeline.run().wait_until_finish()
    finally:
        caption.progress_listener = None

    failed = 0
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


class Progress:
    """Per-file and overall progress on a terminal (stderr); silent otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.finished = 0
        self.chunks: dict[str, int] = {}
        self.started = time.monotonic()

    def on_event(self, event: str, video_id: str, detail: dict[str, Any]) -> None:
        if event == "chunk":
            self.chunks[video_id] = detail["index"]
            self._status(f"{video_id}: {detail['index']} speech chunks decoded")
        elif event in ("ready", "failed"):
            self.finished += 1
            result = detail["result"]
            what = f"{result.cues} cues" if event == "ready" else result.failure.code
            self._line(f"[{self.finished}/{self.total}] {video_id}: {event} ({what})")

    def done(self, ready: int, failed: int, seconds: float) -> None:
        self._line(f"{ready} ready, {failed} failed in {seconds:.1f} s")

    def _status(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        sys.stderr.write(f"\r\033[K[{self.finished}/{self.total}] {elapsed:5.0f}s {text}"[:160])
        sys.stderr.flush()

    def _line(self, text: str) -> None:
        sys.stderr.write(f"\r\033[K{text}\n")
        sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
