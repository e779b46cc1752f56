"""Progress of one video through the steps, as log records the CLI may render.

Steps report through the `autocaption.progress` logger at DEBUG; nothing shows unless a handler
is attached (the CLI attaches its progress display on a terminal). Workers in other processes
have none, so reporting never affects results.
"""

from __future__ import annotations

import logging
from typing import Any

PROGRESS = logging.getLogger("autocaption.progress")


def report(event: str, video_id: str, **detail: Any) -> None:
    """`event` ("decoding", "chunk", "ready", "failed", "skipped") of `video_id`, with detail."""
    if PROGRESS.isEnabledFor(logging.DEBUG):
        PROGRESS.debug("%s %s", event, video_id, extra={"progress": (event, video_id, detail)})
