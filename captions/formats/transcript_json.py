"""`transcript.json`: the words and their times of the spoken language, one file a video."""

from __future__ import annotations

import json
import math
from typing import Any

from schemas.transcript import Transcript


def write_transcript_json(transcript: Transcript) -> str:
    """The transcript's dict as UTF-8 JSON text, one line.

    A time the model never gave (NaN, infinity) is written as null, so the file stays valid JSON.
    """
    return json.dumps(_finite_or_null(transcript.to_dict()), ensure_ascii=False, allow_nan=False)


def _finite_or_null(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(item) for item in value]
    return value
