"""What every route of the gateway reaches: its settings, the store, the event producer, and
the API key check of every write."""

from __future__ import annotations

import hmac
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final

from fastapi import Request

from connectors.kafka.config import KafkaConfig
from connectors.kafka.write import EventPublisher
from connectors.storage.store import ObjectStore
from connectors.translators import TranslatorPool, TranslatorSpec
from connectors.translators.firefox import FirefoxSpec
from gateway.responses import UNAUTHORIZED, ApiError
from gateway.tokens import TokenKeys

DEFAULT_MAX_UPLOAD_BYTES: Final = 2 * 2**30
DEFAULT_CAPTION_MAX_AGE_S: Final = 60


@dataclass(frozen=True)
class GatewaySettings:
    """What `autocaption serve` configures. No `api_keys`: uploads are open (development)."""

    storage: str
    kafka: KafkaConfig
    uploaded_topic: str = "video.uploaded"
    updated_topic: str = "captions.updated"
    deleted_topic: str = "video.deleted"
    api_keys: tuple[str, ...] = ()
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    public_url: str | None = None  # base of the URLs in answers; default: the request's
    tmp_dir: str | None = None  # where upload bodies are spooled
    # How long a cache may serve a caption track without asking again: an edit reaches viewers
    # behind a CDN within this many seconds.
    caption_max_age_s: int = DEFAULT_CAPTION_MAX_AGE_S
    # The text translators: what uploads may ask for, and what makes a machine translation
    # again when a person corrects its source (connectors.translators).
    translators: tuple[TranslatorSpec, ...] = (FirefoxSpec(),)
    # The keys of private videos' playback tokens (gateway.tokens).
    tokens: TokenKeys = field(default_factory=TokenKeys)


@dataclass(frozen=True)
class Gateway:
    """The running gateway's parts, on `app.state.gateway` from startup to shutdown."""

    settings: GatewaySettings
    store: ObjectStore
    publisher: EventPublisher
    # Translations made in the gateway (after a correction, or on request), one at a time in
    # the background, with the models loaded once.
    translators: TranslatorPool = field(default_factory=lambda: TranslatorPool(()))
    background: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="translate")
    )

    def base_url(self, request: Request) -> str:
        """The base of the URLs in answers: --public-url, else the request's own."""
        return (self.settings.public_url or str(request.base_url)).rstrip("/")


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def require_api_key(request: Request) -> None:
    """401 unless the request carries one of the gateway's keys (`Authorization: Bearer <key>`
    or `X-API-Key`), compared in constant time; every request passes when no key is set."""
    if api_key_accepted(request) is False:
        raise ApiError(
            401,
            UNAUTHORIZED,
            "a valid API key is required (Authorization: Bearer <key>)",
            {"WWW-Authenticate": "Bearer"},
        )


def api_key_accepted(request: Request) -> bool | None:
    """None when the gateway sets no key (writes are open), else whether the request carries
    one of its keys."""
    keys = gateway_of(request).settings.api_keys
    if not keys:
        return None
    given = request.headers.get("x-api-key", "")
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        given = credentials.strip()
    matched = False
    for key in keys:  # every key is compared, so the time says nothing about which matched
        matched |= hmac.compare_digest(given.encode("utf-8"), key.encode("utf-8"))
    return matched
