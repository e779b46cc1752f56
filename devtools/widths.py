"""`gateway/static/widths.js`, the width table the pages' caption rules count with, made from the
table the server counts with (`captions.line_breaks.char_width`: Python's `unicodedata`), so the
editor and the server never disagree on how wide a character is.

    .venv/bin/python -m devtools.widths      # rewrites gateway/static/widths.js

`tests/unit/test_page_rules.py` fails when the file differs from what this makes."""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

from captions.line_breaks import char_width

TARGET = Path(__file__).resolve().parents[1] / "gateway" / "static" / "widths.js"


def ranges(kind: float) -> list[tuple[int, int]]:
    """Inclusive code point ranges whose `char_width` at half-width weight 0.5 is `kind`
    (1: wide, 0: no width)."""
    found: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue  # surrogates are no characters
        if char_width(chr(code), 0.5) == kind:
            if found and found[-1][1] == code - 1:
                found[-1] = (found[-1][0], code)
            else:
                found.append((code, code))
    return found


def render() -> str:
    """The text of widths.js."""

    def table(pairs: list[tuple[int, int]]) -> str:
        items = [f"[0x{a:x}, 0x{b:x}]" for a, b in pairs]
        lines = [", ".join(items[k : k + 6]) for k in range(0, len(items), 6)]
        return "[\n  " + ",\n  ".join(lines) + ",\n]"

    return (
        "// Made by `python -m devtools.widths` from Python's unicodedata (Unicode "
        f"{unicodedata.unidata_version}), the\n"
        "// table the server counts with: do not edit. Ranges are inclusive code points.\n\n"
        "/** Wide (East Asian Wide and Fullwidth) characters: each counts 1. */\n"
        f"export const WIDE = {table(ranges(1.0))};\n\n"
        "/** Combining marks and format characters: they take no room on a line. */\n"
        f"export const NO_WIDTH = {table(ranges(0.0))};\n"
    )


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    print(TARGET)
