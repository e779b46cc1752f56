"""The shape of the code, checked (docs/architecture.md, "Layout"): each package imports only
the packages below it, pure modules import neither Beam nor faster-whisper, only the adapter
touches faster-whisper, `--help` stays light, and no import cycle exists."""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What each package may import of ours (the product's packages, bottom up; devtools is not
# installed and may use all of them).
MAY_IMPORT = {
    "schemas": set(),
    "connectors": {"schemas"},
    "captions": {"schemas"},
    "library": {"schemas", "connectors", "captions"},
    "transforms": {"schemas", "connectors", "captions", "library"},
    "gateway": {"schemas", "connectors", "captions", "library"},
    "pipelines": {"schemas", "connectors", "captions", "library", "transforms", "gateway"},
    "devtools": {"schemas", "connectors", "captions", "library", "transforms", "pipelines"},
}
PACKAGES = tuple(MAY_IMPORT)
# Modules with no Beam and no faster-whisper in them: the caption logic, the library, the
# contracts, the values between the steps and the steps' pure parts.
PURE = (
    "captions.cues",
    "captions.formats",
    "captions.line_breaks",
    "captions.markup",
    "captions.reading",
    "captions.rules",
    "captions.translation",
    "connectors.translators",
    "connectors.translators.routes",
    "connectors.translators.firefox",
    "connectors.translators.ctranslate2_models",
    "library.pending",
    "library.translations",
    "library.revisions",
    "library.track_meta",
    "library.videos",
    "transforms.chunks",
    "transforms.transcript",
    "transforms.domain",
    "transforms.settings",
    "transforms.progress",
    "schemas.events",
    "schemas.formats",
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


def test_pure_modules_import_neither_beam_nor_faster_whisper() -> None:
    # One fresh interpreter for all: if none of them together loads a heavy package, none does.
    assert imported_after("\n".join(f"import {module}" for module in PURE)) == set()


def test_help_does_not_import_beam() -> None:
    code = "from pipelines.cli import main\ntry:\n main(['--help'])\nexcept SystemExit:\n pass"
    assert "apache_beam" not in imported_after(code)


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_the_packages_below_it(package: str) -> None:
    wrong = {
        f"{module} imports {name}"
        for module, imports in project_imports().items()
        if module.split(".")[0] == package
        for name in imports
        if name.split(".")[0] in PACKAGES
        and name.split(".")[0] != package
        and name.split(".")[0] not in MAY_IMPORT[package]
    }
    assert wrong == set()


def test_only_the_adapters_touch_faster_whisper_and_ctranslate2() -> None:
    touching = {
        module
        for module, imports in project_imports().items()
        if any(name.split(".")[0] in ("faster_whisper", "ctranslate2") for name in imports)
    }
    assert touching == {
        "transforms.whisper",
        "connectors.translators.ctranslate2_models",
        "devtools.scripted_whisper",
        "devtools.scripted_translator",
    }


def test_no_import_cycle_between_project_modules() -> None:
    modules = project_imports()
    graph = {
        module: {name for name in imports if name in modules} for module, imports in modules.items()
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


@functools.cache
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
