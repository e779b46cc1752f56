"""Signed webhooks in the Standard Webhooks form (https://www.standardwebhooks.com/).

Each POST carries three headers:

    webhook-id         the event's id: the same on every retry, so a receiver drops repeats
    webhook-timestamp  Unix seconds when this attempt was signed
    webhook-signature  "v1," + base64(HMAC-SHA256(secret, f"{id}.{timestamp}." + body))

and a JSON body `{"type": "captions.ready", "timestamp": ..., "data": <the event>}`. A secret is
given as `whsec_` + base64 (what the Standard Webhooks libraries take), or as plain text of at
least 24 bytes.

Only endpoints from the configuration are ever posted to (`Endpoint` takes http and https URLs
and nothing else); nothing in an event names where it goes, and redirects are not followed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http.client
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

MIN_SECRET_BYTES: Final = 24
TOLERANCE_S: Final = 300  # how old a signed timestamp a receiver accepts


def parse_secret(text: str) -> bytes:
    """The key of a secret: `whsec_<base64>` decoded, else the text's own bytes."""
    text = text.strip()
    if text.startswith("whsec_"):
        try:
            key = base64.b64decode(text[len("whsec_") :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a whsec_ secret is base64 after the prefix") from None
    else:
        key = text.encode("utf-8")
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"a webhook secret is at least {MIN_SECRET_BYTES} bytes")
    return key


@dataclass(frozen=True)
class Endpoint:
    """One receiver: its URL (http or https, no credentials in it) and its secret's key."""

    url: str
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"a webhook endpoint is an http(s) URL, not {self.url[:80]!r}")
        if parts.username or parts.password:
            raise ValueError("a webhook endpoint URL carries no credentials (use the secret)")


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header of one attempt."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(
    key: bytes, headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> bool:
    """Whether a received webhook is ours: a `v1` signature of its id, timestamp and body
    matches (in constant time), and its timestamp is within five minutes of `now`. What a
    receiver runs (docs/api.md has it without this package)."""
    message_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    if not message_id or not stamp.isdigit():
        return False
    if abs((now if now is not None else time.time()) - int(stamp)) > TOLERANCE_S:
        return False
    expected = sign(key, message_id, int(stamp), body).encode("ascii")
    matched = False
    for candidate in headers.get("webhook-signature", "").split():
        matched |= hmac.compare_digest(candidate.encode("ascii", "replace"), expected)
    return matched


def signed_headers(key: bytes, message_id: str, body: bytes) -> dict[str, str]:
    stamp = int(time.time())
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(key, message_id, stamp, body),
        "user-agent": "autocaption-notify/1",
    }


class Poster:
    """POSTs over kept-alive connections, one per thread and endpoint. `post` answers the
    HTTP status, or raises `OSError` (refused, reset, timed out)."""

    def __init__(self, timeout_s: float = 10.0) -> None:
        self.timeout_s = timeout_s
        self._local = threading.local()

    def post(self, endpoint: Endpoint, body: bytes, message_id: str) -> int:
        parts = urlsplit(endpoint.url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = signed_headers(endpoint.key, message_id, body)
        for attempt in (1, 2):  # a kept-alive connection the server closed: once more, fresh
            connection = self._connection(endpoint.url)
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read(64 * 1024)
                if response.will_close:
                    self._drop(endpoint.url)
                return response.status
            except (OSError, http.client.HTTPException) as exc:
                self._drop(endpoint.url)
                reused = isinstance(exc, http.client.RemoteDisconnected | BrokenPipeError)
                if attempt == 2 or not reused:
                    raise OSError(f"{type(exc).__name__}: {exc}") from None
        raise AssertionError("unreachable")

    def _connection(self, url: str) -> http.client.HTTPConnection:
        connections: dict[str, http.client.HTTPConnection] = self._local.__dict__.setdefault(
            "connections", {}
        )
        connection = connections.get(url)
        if connection is None:
            parts = urlsplit(url)
            if parts.scheme == "https":
                connection = http.client.HTTPSConnection(
                    parts.hostname or "",
                    parts.port,
                    timeout=self.timeout_s,
                    context=ssl.create_default_context(),
                )
            else:
                connection = http.client.HTTPConnection(
                    parts.hostname or "", parts.port, timeout=self.timeout_s
                )
            connections[url] = connection
        return connection

    def _drop(self, url: str) -> None:
        connections = self._local.__dict__.get("connections", {})
        connection = connections.pop(url, None)
        if connection is not None:
            connection.close()
