"""`autocaption notify`: POST every captions.ready, captions.failed, captions.updated and
video.deleted event to the configured webhook endpoints, signed (`pipelines/notify_service.py`)."""

from __future__ import annotations

import argparse
import logging
import signal
from pathlib import Path
from typing import Any

from pipelines.options import (
    UsageError,
    add_kafka_options,
    add_option,
    create_topics_if_asked,
    env_default,
    kafka_config,
    topics,
)

log = logging.getLogger("autocaption")


def add_parser(commands: Any) -> None:
    notify = commands.add_parser(
        "notify",
        help="signed webhooks: POST the answer events to your endpoints",
        description="Consume captions.ready, captions.failed, captions.updated and "
        "video.deleted and POST each to every endpoint, signed in the Standard Webhooks form "
        "(webhook-id, webhook-timestamp, webhook-signature), in order per video, retried with "
        "exponential back-off for --give-up-after seconds (36 h) before the event goes to the "
        "dead-letter topic. Offsets are committed only after delivery. Only the configured "
        "endpoints are ever posted to. SIGTERM stops it gracefully.",
    )
    add_kafka_options(notify)
    notify.set_defaults(group_id=env_default("notify_group_id", "autocaption-notify"))
    notify.add_argument(
        "--url",
        action="append",
        default=[],
        metavar="URL",
        help="an endpoint (http or https); repeat for several; they share --secret",
    )
    notify.add_argument(
        "--secret",
        default=env_default("webhook_secret", None),
        help="the endpoints' signing secret: whsec_<base64> or at least 24 bytes of text; "
        "env AUTOCAPTION_WEBHOOK_SECRET",
    )
    notify.add_argument(
        "--endpoints",
        metavar="FILE",
        help='a JSON list of {"url": ..., "secret": ...}: endpoints with secrets of their own',
    )
    add_option(notify, "--dead-letter-topic", default="webhooks.dead")
    add_option(
        notify,
        "--give-up-after",
        type=float,
        default=36 * 3600.0,
        help="seconds an event is retried before it is dead-lettered (default 129600: 36 h)",
    )
    add_option(
        notify,
        "--max-retry-interval",
        type=float,
        default=3600.0,
        help="the longest wait between two tries (default 3600 s); waits start at 1 s and double",
    )
    add_option(notify, "--workers", type=int, default=32, help="videos delivered at once")
    add_option(notify, "--timeout", type=float, default=10.0, help="seconds a POST may take")
    notify.set_defaults(run=run, parser=notify, takes_beam_options=False)


def run(args: argparse.Namespace, beam_args: list[str]) -> int:
    """Deliver until SIGTERM or SIGINT; a graceful stop exits 0."""
    from pipelines.notify_service import Notifier, NotifySettings, read_endpoints

    try:
        text = Path(args.endpoints).read_text() if args.endpoints else None
    except OSError as exc:
        raise UsageError(f"--endpoints: {exc}") from None
    try:
        endpoints = read_endpoints(args.url, args.secret, text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.give_up_after <= 0 or args.max_retry_interval <= 0 or args.timeout <= 0:
        raise UsageError("--give-up-after, --max-retry-interval and --timeout are > 0")
    if not 1 <= args.workers <= 1024:
        raise UsageError("--workers is 1 to 1024")
    settings = NotifySettings(
        kafka=kafka_config(args),
        endpoints=tuple(endpoints),
        topics=topics(args),
        dead_letter_topic=args.dead_letter_topic,
        give_up_after_s=args.give_up_after,
        max_retry_s=args.max_retry_interval,
        workers=args.workers,
        timeout_s=args.timeout,
    )
    if args.create_topics:
        from connectors.kafka.admin import ensure_topics

        create_topics_if_asked(args)
        ensure_topics(settings.kafka, [settings.dead_letter_topic])
    notifier = Notifier(settings)

    def stop(signum: int, frame: Any) -> None:
        log.warning("signal %d: stopping (deliveries in hand end, offsets are committed)", signum)
        notifier.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    notifier.run()
    return 0
