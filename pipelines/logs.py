"""Log output for every command: text for people, or one JSON object per line for collectors.

The JSON formatter is our own (a dozen lines): it writes exactly the fields operators query
(`ts`, `level`, `logger`, `message`, and whatever `extra=` a call site adds, such as `event`),
and a library would give the same for one more dependency.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message"}


class BeamImportNoise(logging.Filter):
    """Beam warns about optional Google Cloud clients on import; they are not ours to need."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "apitools not found" not in record.getMessage()


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str, log_format: str = "text") -> None:
    """Root logging at `level`, as text or JSON lines on stderr; Beam kept at WARNING or
    quieter, since it is chatty at INFO."""
    logging.basicConfig(
        level=level.upper(), format="%(levelname)s %(name)s: %(message)s", force=True
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(BeamImportNoise())
        if log_format == "json":
            handler.setFormatter(JsonLogFormatter())
    logging.getLogger("apache_beam").setLevel(max(logging.WARNING, logging.getLogger().level))
