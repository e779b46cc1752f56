"""The repository stands on its own: nothing in it names a file outside it, and nothing the
product, its README, the demo or the benchmarks need lives under `tests/`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The design notes, the shared folder beside the checkout, this machine's paths (spelled in
# parts, so this line does not name them itself).
NAMED_OUTSIDE = (
    r"(^|[^/A-Za-z])" + "DESIGN" + r"\.md",
    "shared" + "/notes",
    r"\.\./" + "shared",
    "/" + "work/",
    "/" + "root/",
)
OUTSIDE = re.compile("|".join(NAMED_OUTSIDE))
OUTSIDE_TESTS = ("schemas", "connectors", "captions", "library", "transforms", "pipelines",
                 "gateway", "devtools", "benchmarks", "scripts", "deploy")  # fmt: skip


def tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    files = [REPO / name for name in names if (REPO / name).is_file()]
    return [f for f in files if f.suffix not in (".ogg", ".flac", ".mp3", ".m4a", ".lock")]


def test_nothing_names_a_file_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()[:80]}"
        for path in tracked_text_files()
        for number, line in enumerate(
            path.read_text(encoding="utf-8", errors="ignore").splitlines(), 1
        )
        if OUTSIDE.search(line)
    ]
    assert found == []


def test_nothing_outside_tests_needs_tests() -> None:
    # an import or a `python -m` of a test module, or a file the tests keep for themselves
    uses = re.compile(r"\b(from|import|-m) tests\.|\btests/fixtures|\btests/data/(?!realspeech)")
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for path in tracked_text_files()
        if path.relative_to(REPO).parts[0] in OUTSIDE_TESTS
        or path.relative_to(REPO).as_posix() in ("README.md", "Makefile")
        for number, line in enumerate(
            path.read_text(encoding="utf-8", errors="ignore").splitlines(), 1
        )
        if uses.search(line)
    ]
    assert found == []
