"""The editor's caption rules agree with the server's: one table of cases
(`tests/data/caption_rule_cases.json`) is checked here against `captions.checks` and by
`node --test` against `gateway/static/rules.js`; the width table the pages count with is the
server's own."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from captions.checks import cue_problems
from captions.line_breaks import text_width
from captions.markup import parse_notation, visible_lines, vtt_text
from captions.rules import CaptionRules
from devtools.widths import TARGET, render
from gateway.caption_documents import caption_rules

REPO = Path(__file__).resolve().parents[2]
CASES: dict[str, Any] = json.loads(
    (REPO / "tests" / "data" / "caption_rule_cases.json").read_text(encoding="utf-8")
)


def rules_of(language: str) -> CaptionRules:
    doc = CASES["rules"][language]
    return CaptionRules(
        max_chars_per_line=doc["max_chars_per_line"],
        max_lines=doc["max_lines"],
        min_duration_s=doc["min_duration_s"],
        max_duration_s=doc["max_duration_s"],
        min_gap_s=doc["min_gap_s"],
        max_chars_per_second=doc["max_chars_per_second"],
        half_width_weight=doc["half_width_weight"],
    )


@pytest.mark.parametrize("language", sorted(CASES["rules"]))
def test_the_tables_rules_are_the_gateways(language: str) -> None:
    assert CASES["rules"][language] == caption_rules(language).model_dump()


@pytest.mark.parametrize("case", CASES["cues"], ids=lambda c: c["name"])
def test_the_server_finds_the_rules_each_case_breaks(case: dict[str, Any]) -> None:
    problems = cue_problems(
        case["start"], case["end"], case["text"], case["next_start"], rules_of(case["language"])
    )
    assert [p.rule for p in problems] == case["expected"]


@pytest.mark.parametrize("case", CASES["widths"], ids=lambda c: c["text"])
def test_the_server_counts_each_width(case: dict[str, Any]) -> None:
    assert text_width(case["text"], case["half_width_weight"]) == case["width"]


@pytest.mark.parametrize("case", CASES["markup"], ids=lambda c: c["notation"])
def test_the_server_reads_the_editors_notation(case: dict[str, Any]) -> None:
    text = parse_notation(case["notation"])
    assert "\n".join(visible_lines(text)) == case["visible"]
    assert vtt_text(text) == case["vtt"]


def test_the_pages_width_table_is_the_servers() -> None:
    assert TARGET.read_text(encoding="utf-8") == render(), (
        "gateway/static/widths.js is out of date: run .venv/bin/python -m devtools.widths"
    )


def test_the_editors_rules_pass_the_same_table_in_node() -> None:
    result = subprocess.run(
        ["node", "--test", "tests/js/"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
