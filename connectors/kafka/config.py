"""Kafka settings: what every Kafka client of ours shares. No Beam here.

`KafkaConfig` is where the brokers are and how to talk to them (plain strings, so it pickles to
Beam workers); `Topics` names the service's topics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError

# librdkafka's own log lines (connection refused at shutdown, ...) go through Python logging.
RDKAFKA_LOG = logging.getLogger("connectors.kafka.librdkafka")


class KafkaDeliveryError(RuntimeError):
    """A produced message was not acknowledged by the broker (or not within the flush timeout)."""


class KafkaReadError(RuntimeError):
    """A planned offset range could not be read."""


def _log_error(error: KafkaError) -> None:
    # librdkafka logs transient errors itself (through `logger`); only fatal ones need saying.
    level = logging.ERROR if error.fatal() else logging.DEBUG
    RDKAFKA_LOG.log(level, "kafka client error: %s", error)


@dataclass(frozen=True)
class KafkaConfig:
    """Where the brokers are and how to talk to them; plain strings, so it pickles to workers.

    `options` are extra librdkafka settings (security, timeouts, ...) applied to every client;
    per-call overrides win over them, and they win over the built-in defaults.
    """

    bootstrap_servers: str
    group_id: str = "autocaption"
    options: tuple[tuple[str, str], ...] = ()

    def _base(self) -> dict[str, Any]:
        return {
            "bootstrap.servers": self.bootstrap_servers,
            "logger": RDKAFKA_LOG,
            "error_cb": _log_error,
            **dict(self.options),
        }

    def consumer_config(self, **overrides: Any) -> dict[str, Any]:
        """librdkafka consumer settings: group id, options, no auto commit, then overrides.

        Keys are librdkafka names: pass dotted ones as `**{"session.timeout.ms": 6000}`.
        """
        # Never auto commit, whatever the options say: offsets are committed after the work.
        config = {"group.id": self.group_id, **self._base(), "enable.auto.commit": False}
        config.update(overrides)
        return config

    def producer_config(self, **overrides: Any) -> dict[str, Any]:
        """librdkafka producer settings: idempotent by default, then options, then overrides."""
        config = {"enable.idempotence": True, **self._base()}
        config.update(overrides)
        return config

    def admin_config(self) -> dict[str, Any]:
        return self._base()


@dataclass(frozen=True)
class Topics:
    """The service's topics (docs/architecture.md, "Contracts"); names are configurable.
    `updated` carries `captions.updated` events: tracks changed through the captions API, or
    made again on its request; `deleted` carries `video.deleted`."""

    uploaded: str = "video.uploaded"
    ready: str = "captions.ready"
    failed: str = "captions.failed"
    updated: str = "captions.updated"
    deleted: str = "video.deleted"  # videos deleted for good through the gateway

    @property
    def service(self) -> list[str]:
        """The topics the stream service reads and writes."""
        return [self.uploaded, self.ready, self.failed, self.updated]

    @property
    def all(self) -> list[str]:
        """Every topic, as `--create-topics` makes them."""
        return [*self.service, self.deleted]
