"""A webhook receiver over a real socket, as a platform would run one: it verifies every
signature (`connectors.webhooks.verify`), drops repeats by `webhook-id`, and can go down (its
socket and every open connection closed) and come back on the same port. For the tests and the
benchmark of `autocaption notify`."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from connectors.webhooks import verify
from devtools.services import free_port


@dataclass
class Received:
    """What the receiver took, in the order it took it."""

    events: list[dict[str, Any]] = field(default_factory=list)  # accepted, first time each
    ids: set[str] = field(default_factory=set)
    times: list[float] = field(default_factory=list)  # time.monotonic() of each accepted
    repeats: int = 0  # a webhook-id seen again (a retry of a POST whose answer was lost)
    forged: int = 0  # a signature that did not verify (answered 401)
    refused: int = 0  # answered with `status` while told to fail


class Receiver:
    def __init__(self, key: bytes, port: int | None = None) -> None:
        self.key = key
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.received = Received()
        self.status = 204  # what a verified POST is answered; set 500 to make every one fail
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver behind a proxy

            def setup(self) -> None:
                super().setup()
                with receiver._lock:
                    receiver._connections.add(self.connection)

            def finish(self) -> None:
                with receiver._lock:
                    receiver._connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver._take(headers, body)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: no new connection is accepted and every open one is cut."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def _take(self, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            if not verify(self.key, headers, body):
                self.received.forged += 1
                return 401
            if self.status >= 300:
                self.received.refused += 1
                return self.status
            message_id = headers["webhook-id"]
            if message_id in self.received.ids:
                self.received.repeats += 1
                return 204
            self.received.ids.add(message_id)
            self.received.events.append({"webhook_id": message_id, **json.loads(body)})
            self.received.times.append(time.monotonic())
            return self.status

    def count(self) -> int:
        with self._lock:
            return len(self.received.events)
