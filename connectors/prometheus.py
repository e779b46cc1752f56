"""Service counters and their Prometheus text endpoint (`/metrics`, plus `/healthz`).

The stream service adds each micro-batch's Beam counters here; a small HTTP server on
`--metrics-port` serves them in the Prometheus text format (version 0.0.4).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "autocaption_"
HELP = {
    "batches_total": "micro-batches committed",
    "batches_failed_total": "micro-batches that failed and were replayed",
    "records_total": "video.uploaded records read in committed batches",
    "batch_seconds_total": "wall seconds spent in committed batches",
    "videos_ready_total": "uploads answered with captions.ready",
    "videos_failed_total": "uploads answered with captions.failed (media problems)",
    "videos_reused_total": "uploads answered from an existing manifest",
    "events_invalid_total": "messages answered with captions.failed invalid_event",
    "audio_seconds_total": "seconds of audio decoded",
    "speech_chunks_total": "speech chunks sent to the model",
}


class ServiceMetrics:
    """Monotonic counters plus the size of the last batch; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, float] = {name: 0.0 for name in HELP}
        self._last_batch_records = 0.0
        self.started = time.time()

    def inc(self, name: str, amount: float = 1.0) -> None:
        key = name if name.endswith("_total") else f"{name}_total"
        with self._lock:
            self._counters[key] = self._counters.get(key, 0.0) + amount

    def record_batch(self, records: int, seconds: float, counters: Mapping[str, int]) -> None:
        with self._lock:
            self._last_batch_records = float(records)
        self.inc("batches")
        self.inc("records", records)
        self.inc("batch_seconds", seconds)
        for name, value in counters.items():
            self.inc(name, value)

    def value(self, name: str) -> float:
        with self._lock:
            return self._counters.get(name if name.endswith("_total") else f"{name}_total", 0.0)

    def render(self) -> str:
        """The Prometheus text exposition of every counter."""
        with self._lock:
            counters = dict(self._counters)
            last = self._last_batch_records
        lines = []
        for name, value in sorted(counters.items()):
            full = PREFIX + name
            lines.append(f"# HELP {full} {HELP.get(name, name.replace('_', ' '))}")
            lines.append(f"# TYPE {full} counter")
            lines.append(f"{full} {value:g}")
        lines += [
            f"# HELP {PREFIX}last_batch_records records in the last committed batch",
            f"# TYPE {PREFIX}last_batch_records gauge",
            f"{PREFIX}last_batch_records {last:g}",
            f"# HELP {PREFIX}start_time_seconds when the service started (unix time)",
            f"# TYPE {PREFIX}start_time_seconds gauge",
            f"{PREFIX}start_time_seconds {self.started:.3f}",
        ]
        return "\n".join(lines) + "\n"


def serve_metrics(metrics: ServiceMetrics, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Start serving `/metrics` and `/healthz` on a daemon thread; returns the server
    (its `server_address` has the real port when `port` is 0)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body = metrics.render().encode()
                content_type = "text/plain; version=0.0.4; charset=utf-8"
            elif self.path == "/healthz":
                body, content_type = b"ok\n", "text/plain; charset=utf-8"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # scrapes are not news
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
