"""WebVTT files checked by the W3C's own parser (npm `webvtt-parser`, the one behind the W3C's
online validator), run in Node.js: a track it finds an error in fails the test that made it.

One Node.js process serves the whole test session (a line of JSON in, a line out)."""

from __future__ import annotations

import atexit
import functools
import json
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "js" / "webvtt_validate.mjs"
_LOCK = threading.Lock()


@functools.cache
def _validator() -> subprocess.Popen[str]:
    process = subprocess.Popen(
        ["node", str(SCRIPT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        cwd=REPO,
    )
    atexit.register(process.kill)
    return process


def w3c_webvtt_errors(texts: Sequence[str]) -> list[list[str]]:
    """For each WebVTT text, the errors the W3C's parser finds ("line N: message")."""
    if not texts:
        return []
    with _LOCK:
        process = _validator()
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(list(texts)) + "\n")
        process.stdin.flush()
        answer = process.stdout.readline()
    if not answer:
        raise RuntimeError("the WebVTT validator (node tests/js/webvtt_validate.mjs) stopped")
    errors: list[list[str]] = json.loads(answer)
    return errors


def assert_w3c_valid(*texts: str) -> None:
    """Fail with the W3C parser's errors of every text that has any."""
    found = {k: errors for k, errors in enumerate(w3c_webvtt_errors(texts)) if errors}
    assert not found, "\n".join(f"track {k}: {errors}" for k, errors in found.items())
