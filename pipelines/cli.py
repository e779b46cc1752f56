"""The `autocaption` command: global options, then one of the commands in `pipelines/commands/`.

Exit codes: 0 every input captioned; 1 some input failed (one `ERROR` line each on stderr);
2 bad usage or configuration (one line); 3 an internal error (a bug: one line, and the
traceback with AUTOCAPTION_DEBUG=1).
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from pipelines.logs import configure_logging

# Before Beam is ever imported, so its import-time noise meets our filter.
configure_logging(os.environ.get("AUTOCAPTION_LOG_LEVEL", "WARNING"))

from pipelines.commands import (  # noqa: E402
    backfill,
    caption,
    models,
    notify,
    publish,
    serve,
    stream,
)
from pipelines.options import UsageError, refuse_unknown  # noqa: E402

COMMANDS = (caption, stream, backfill, serve, publish, notify, models)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    configure_logging(args.log_level, args.log_format)
    try:
        refuse_unknown(beam_args, args)
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
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=os.environ.get("AUTOCAPTION_LOG_FORMAT", "text"),
        help="json: one JSON object per line, for log collectors",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


# glibc gives each thread that allocates concurrently an arena of its own; the inference workers
# and the stage threads then hold freed memory in several arenas. Two arenas measured the same
# speed and about 70 MiB less peak memory on the 10-minute benchmark talk (868 -> 802 MiB).
M_ARENA_MAX = -8
MALLOC_ARENAS = 2


def limit_malloc_arenas() -> None:
    """Cap glibc's malloc arenas (no-op elsewhere, or when MALLOC_ARENA_MAX is set)."""
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        pass


def entry() -> None:
    """The console script: run, flush, and leave without interpreter teardown.

    Native libraries' thread pools (CTranslate2, ONNX Runtime, Arrow) can abort the process
    while Python tears down ("terminate called without an active exception", exit 134) after
    all work is done; every output is already durable here, so skip that teardown."""
    limit_malloc_arenas()
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
