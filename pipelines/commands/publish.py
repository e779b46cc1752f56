"""`autocaption publish FILE`: upload a file to storage and publish its `video.uploaded` event."""

from __future__ import annotations

import argparse
import os
import uuid
from typing import Any

from pipelines.options import (
    UsageError,
    add_kafka_options,
    create_topics_if_asked,
    kafka_config,
    open_storage,
    required_env,
)


def add_parser(commands: Any) -> None:
    publish = commands.add_parser(
        "publish",
        help="upload a file to storage and publish its video.uploaded event",
        description="Upload FILE to videos/<video_id>/<name> in storage, then produce the "
        "video.uploaded event (key = video_id). Prints the event.",
    )
    publish.add_argument("file", metavar="FILE")
    add_kafka_options(publish)
    publish.add_argument("--storage", **required_env("storage"), help="storage URL for uploads")
    publish.add_argument("--video-id", help="default: derived from the file name")
    publish.add_argument("--language", help="spoken language code (default: detect)")
    publish.add_argument(
        "--translate-to",
        default="",
        help="subtitle languages, comma-separated BCP 47 codes (pt-BR,en); a target the "
        "service's translators cannot make fails the event with invalid_event",
    )
    publish.add_argument("--hotwords", help="the upload's vocabulary, e.g. 'ComfyUI, Kubernetes'")
    publish.add_argument("--initial-prompt", help="text the model reads before the speech")
    publish.add_argument(
        "--private",
        action="store_true",
        help="a private video: the gateway serves it only with a playback token or the API key",
    )
    publish.add_argument(
        "--transcript",
        metavar="TEXT_FILE",
        help="the words of the video as written (text, WebVTT or SubRip): stored beside the "
        "captions and named in the event, so the track holds exactly them, timed to the speech",
    )
    publish.add_argument(
        "--keep-cues",
        action="store_true",
        help="with a WebVTT or SubRip --transcript: keep its cues, set only their times",
    )
    publish.set_defaults(run=run, parser=publish, takes_beam_options=False)


def run(args: argparse.Namespace, beam_args: list[str]) -> int:
    """Store the file, then produce its event (acknowledged); prints the event."""
    from connectors.kafka.config import KafkaDeliveryError
    from connectors.kafka.write import produce_once
    from connectors.storage.layout import script_key, upload_key
    from connectors.translators import language_code
    from library.catalog import precise_timestamp
    from schemas.errors import CaptionError
    from schemas.events import UploadRequest
    from schemas.ids import video_id_from_filename

    if not os.path.isfile(args.file):
        raise UsageError(f"no such file: {args.file}")
    if args.transcript is not None and not os.path.isfile(args.transcript):
        raise UsageError(f"--transcript: no such file: {args.transcript}")
    if args.keep_cues and args.transcript is None:
        raise UsageError("--keep-cues goes with --transcript")
    store = open_storage(args.storage, "--storage")
    name = os.path.basename(args.file)
    video_id = args.video_id or video_id_from_filename(name)
    try:
        translate_to = tuple(language_code(t) for t in args.translate_to.split(",") if t.strip())
    except ValueError as exc:
        raise UsageError(f"--translate-to: {exc}") from None
    try:
        key = upload_key(video_id, name)
        source = store.put_file(key, args.file)
        transcript = None
        if args.transcript is not None:
            words = script_key(video_id, f"publish-{uuid.uuid4().hex}.txt")
            transcript = store.put_file(words, args.transcript)
        request = UploadRequest(
            video_id=video_id,
            source=source,
            language=args.language,
            translate_to=translate_to,
            event_id=str(uuid.uuid4()),
            occurred_at=precise_timestamp(),
            hotwords=args.hotwords or None,
            initial_prompt=args.initial_prompt or None,
            private=args.private,
            transcript=transcript,
            keep_cues=args.keep_cues,
        )
    except (CaptionError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    create_topics_if_asked(args)
    try:
        produce_once(kafka_config(args), args.uploaded_topic, video_id, request.to_json().encode())
    except KafkaDeliveryError as exc:  # no broker, or no such topic: the stored file stays
        raise UsageError(
            f"the event was not published ({exc}); the file is stored at {source}. Is the "
            f"broker up, and does {args.uploaded_topic} exist (--create-topics makes it)?"
        ) from None
    print(request.to_json())
    return 0
