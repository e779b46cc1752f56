"""The shape of the code, checked: pure modules stay pure, `--help` stays light, no import cycle.

DESIGN.md: pure logic (chunk planning, transcript assembly, cue layout, track formats, event
parsing) has no Beam import and no faster-whisper import; every faster-whisper and CTranslate2
detail lives behind `transforms/whisper.py`.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "connectors", "transforms", "pipelines", "gateway")
PURE = (
    "transforms.chunks",
    "transforms.transcript",
    "transforms.cues",
    "transforms.line_breaks",
    "transforms.languages",
    "transforms.tracks",
    "transforms.domain",
    "transforms.settings",
    "transforms.progress",
    "transforms.caption_files",
    "transforms.revisions",
    "transforms.pending",
    "schemas.events",
    "schemas.manifest",
    "schemas.updates",
    "schemas.languages",
    "connectors.storage.layout",
)
HEAVY = ("apache_beam", "faster_whisper", "ctranslate2")


def imported_after(code: str) -> set[str]:
    """The top-level packages of HEAVY that running `code` in a fresh interpreter imports."""
    probe = f"{code}\nimport sys\nprint(sorted({{m.split('.')[0] for m in sys.modules}}))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    loaded = set(ast.literal_eval(out.strip().splitlines()[-1]))
    return loaded & set(HEAVY)


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_neither_beam_nor_faster_whisper(module: str) -> None:
    assert imported_after(f"import {module}") == set()


def test_help_does_not_import_beam() -> None:
    code = "from pipelines.cli import main\ntry:\n main(['--help'])\nexcept SystemExit:\n pass"
    assert "apache_beam" not in imported_after(code)


def test_only_the_adapter_touches_faster_whisper_and_ctranslate2() -> None:
    touching = {
        module
        for module, imports in project_imports().items()
        if any(name.split(".")[0] in ("faster_whisper", "ctranslate2") for name in imports)
    }
    assert touching == {"transforms.whisper"}


def test_no_import_cycle_between_project_modules() -> None:
    graph = {
        module: {name for name in imports if name in project_imports()}
        for module, imports in project_imports().items()
    }
    cycles = []
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def project_imports() -> dict[str, set[str]]:
    """Every project module and the modules it imports anywhere in it (also inside functions):
    `from a.b import c` counts as a.b.c when that is a module, else as a.b."""
    files = {
        ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): path
        for package in PACKAGES
        for path in (REPO / package).rglob("*.py")
    }
    out: dict[str, set[str]] = {}
    for module, path in files.items():
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    names.add(full if full in files else node.module)
        out[module] = names - {module}
    return out
