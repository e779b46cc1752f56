"""The stream service's metrics (prometheus_client) and their endpoint (`/metrics`, `/healthz`).

Counters of each committed micro-batch (the Beam counters of its run, plus batches, records and
seconds), the size of the last batch, and a histogram of the time from an upload's event to its
committed answer (the Kafka timestamp of `video.uploaded` to the commit of the batch that
answered it), which is what an operator alerts on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

PREFIX = "autocaption_"
HELP = {
    "batches": "micro-batches committed",
    "batches_failed": "micro-batches that failed and were replayed",
    "records": "video.uploaded records read in committed batches",
    "batch_seconds": "wall seconds spent in committed batches",
    "videos_ready": "uploads answered with captions.ready",
    "videos_failed": "uploads answered with captions.failed (media problems)",
    "videos_reused": "uploads answered from an existing manifest",
    "events_invalid": "messages answered with captions.failed invalid_event",
    "audio_seconds": "seconds of audio decoded",
    "speech_chunks": "speech chunks sent to the model",
}
# Upload-to-answer seconds: from a lone short upload (a few seconds) to a long video's hour.
ANSWER_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)


class ServiceMetrics:
    """The service's metrics in a registry of their own; thread-safe (prometheus_client)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._counters: dict[str, Counter] = {}
        for name in HELP:
            self._counter(name)
        self._last_batch = Gauge(
            PREFIX + "last_batch_records",
            "records in the last committed batch",
            registry=self.registry,
        )
        started = Gauge(
            PREFIX + "start_time_seconds",
            "when the service started (unix time)",
            registry=self.registry,
        )
        started.set_to_current_time()
        self._answered = Histogram(
            PREFIX + "upload_to_answer_seconds",
            "seconds from an upload's video.uploaded event to its committed answer",
            buckets=ANSWER_BUCKETS,
            registry=self.registry,
        )

    def _counter(self, name: str) -> Counter:
        if name not in self._counters:
            self._counters[name] = Counter(
                PREFIX + name, HELP.get(name, name.replace("_", " ")), registry=self.registry
            )
        return self._counters[name]

    def inc(self, name: str, amount: float = 1.0) -> None:
        self._counter(name.removesuffix("_total")).inc(amount)

    def record_batch(self, records: int, seconds: float, counters: Mapping[str, int]) -> None:
        """A committed batch: its size, its time and the Beam counters of its run."""
        self._last_batch.set(records)
        self.inc("batches")
        self.inc("records", records)
        self.inc("batch_seconds", seconds)
        for name, value in counters.items():
            self.inc(name, value)

    def observe_answers(self, seconds: Iterable[float]) -> None:
        """Upload-to-answer times of the uploads a committed batch answered."""
        for value in seconds:
            self._answered.observe(max(0.0, value))

    def render(self) -> str:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry).decode("utf-8")


def serve_metrics(metrics: ServiceMetrics, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Start serving `/metrics` and `/healthz` on a daemon thread; returns the server
    (its `server_address` has the real port when `port` is 0)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, content_type = metrics.render().encode(), CONTENT_TYPE_LATEST
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
