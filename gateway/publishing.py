"""The gateway's events: an upload (or a request to make captions again) is published or
answered 503, and a track change is announced on `captions.updated`, best effort."""

from __future__ import annotations

import logging

from confluent_kafka import KafkaException

from connectors.kafka.config import KafkaDeliveryError
from gateway.context import Gateway
from gateway.responses import UNAVAILABLE, ApiError
from library.track_meta import TrackChange
from schemas.events import Event, TrackRef, UploadRequest

log = logging.getLogger("autocaption.gateway")


def publish_or_503(gateway: Gateway, event: UploadRequest, unavailable: str) -> None:
    """Publish a `video.uploaded` event and wait for the broker's acknowledgement; 503
    `unavailable` (saying `unavailable`) when it does not come."""
    try:
        _publish(gateway, gateway.settings.uploaded_topic, event.video_id, event)
    except (KafkaDeliveryError, KafkaException) as exc:
        log.error("video.uploaded of %s not published: %s", event.video_id, exc)
        raise ApiError(503, UNAVAILABLE, unavailable) from None


def announce(gateway: Gateway, video_id: str, change: TrackChange, tracks: list[TrackRef]) -> None:
    """Publish the change as `captions.updated` (`tracks`: the files it touched). The change
    stands either way: a broker that is down is logged, not answered with an error the client
    could only retry into a conflict."""
    event = change.event(video_id, tracks)
    try:
        _publish(gateway, gateway.settings.updated_topic, video_id, event)
    except (KafkaDeliveryError, KafkaException) as exc:
        log.error("captions.updated for %s %s not sent: %s", video_id, change.language, exc)


def _publish(gateway: Gateway, topic: str, key: str, event: Event | UploadRequest) -> None:
    gateway.publisher.publish(topic, key, event.to_json().encode("utf-8"))
