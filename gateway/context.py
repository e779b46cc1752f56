"""What every route of the gateway reaches: its settings, the store and the event producer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from fastapi import Request

from connectors.kafka.config import KafkaConfig
from connectors.kafka.write import EventPublisher
from connectors.storage.store import ObjectStore

DEFAULT_MAX_UPLOAD_BYTES: Final = 2 * 2**30


@dataclass(frozen=True)
class GatewaySettings:
    """What `autocaption serve` configures. No `api_keys`: uploads are open (development)."""

    storage: str
    kafka: KafkaConfig
    uploaded_topic: str = "video.uploaded"
    api_keys: tuple[str, ...] = ()
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    public_url: str | None = None  # base of the URLs in answers; default: the request's
    tmp_dir: str | None = None  # where upload bodies are spooled


@dataclass(frozen=True)
class Gateway:
    """The running gateway's parts, on `app.state.gateway` from startup to shutdown."""

    settings: GatewaySettings
    store: ObjectStore
    publisher: EventPublisher

    def base_url(self, request: Request) -> str:
        """The base of the URLs in answers: --public-url, else the request's own."""
        return (self.settings.public_url or str(request.base_url)).rstrip("/")


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway
