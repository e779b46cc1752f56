"""Progress on a terminal: a bar of finished videos with rate and time left (tqdm), one line per
finished video, and the speech chunks of the video being decoded.

It listens to `transforms.progress` (log records of the steps), so the steps know nothing of
it; a command shows it only when stderr is a terminal.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from tqdm import tqdm

from transforms.progress import PROGRESS


class Progress(logging.Handler):
    """Renders the progress records of one run of `total` videos."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        super().__init__(logging.DEBUG)
        self.total = total
        self.finished = 0
        self.stream = stream or sys.stderr
        self.bar = tqdm(
            total=total, unit="video", file=self.stream, dynamic_ncols=True, leave=False
        )

    def emit(self, record: logging.LogRecord) -> None:
        said: tuple[str, str, dict[str, Any]] = getattr(record, "progress", ("", "", {}))
        event, video_id, detail = said
        if event == "chunk":
            self.bar.set_postfix_str(f"{video_id}: {detail['index']} speech chunks decoded")
        elif event in ("ready", "failed", "skipped"):
            self.finished += 1
            result: Any = detail.get("result")
            if event == "ready":
                what = f" ({result.cues} cues)"
            elif event == "failed":
                what = f" ({result.failure.code})"
            else:
                what = " (already captioned)"
            tqdm.write(f"[{self.finished}/{self.total}] {video_id}: {event}{what}", self.stream)
            self.bar.update(1)

    def done(self, ready: int, failed: int, seconds: float) -> None:
        self.bar.close()
        tqdm.write(f"{ready} ready, {failed} failed in {seconds:.1f} s", self.stream)


@contextmanager
def show_progress(total: int, stream: TextIO | None = None) -> Iterator[Progress | None]:
    """A `Progress` listening for the duration of the block, when stderr is a terminal (or a
    `stream` is given); else None."""
    if stream is None and not sys.stderr.isatty():
        yield None
        return
    progress = Progress(total, stream)
    PROGRESS.addHandler(progress)
    PROGRESS.setLevel(logging.DEBUG)
    PROGRESS.propagate = False
    try:
        yield progress
    finally:
        PROGRESS.removeHandler(progress)
        PROGRESS.setLevel(logging.NOTSET)
        PROGRESS.propagate = True
        progress.bar.close()
