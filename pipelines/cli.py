"""The `autocaption` command.

Exit codes: 0 every input captioned; 1 some input failed (one `ERROR` line each on stderr);
2 bad usage or configuration (one line); 3 an internal error (a bug: one line, and the
traceback with AUTOCAPTION_DEBUG=1).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any


class _BeamImportNoise(logging.Filter):
    """Beam warns about optional Google Cloud clients on import; they are not ours to need."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "apitools not found" not in record.getMessage()


_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message"}


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def _configure_logging(level: str, log_format: str = "text") -> None:
    logging.basicConfig(
        level=level.upper(), format="%(levelname)s %(name)s: %(message)s", force=True
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(_BeamImportNoise())
        if log_format == "json":
            handler.setFormatter(JsonLogFormatter())
    # Beam is chatty at INFO; keep its voice at our level or quieter.
    logging.getLogger("apache_beam").setLevel(max(logging.WARNING, logging.getLogger().level))


# Before Beam is imported (by the next line), so its import-time noise meets our filter.
_configure_logging(os.environ.get("AUTOCAPTION_LOG_LEVEL", "WARNING"))

from pipelines.options import (  # noqa: E402
    UsageError,
    add_common_options,
    add_option,
    caption_options,
    env_default,
    make_pipeline,
)

log = logging.getLogger("autocaption")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    _configure_logging(args.log_level, args.log_format)
    try:
        return int(args.run(args, beam_args))
    except UsageError as exc:
        print(f"autocaption: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("autocaption: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so in one line, keep the traceback for debugging
        if os.environ.get("AUTOCAPTION_DEBUG"):
            traceback.print_exc()
        print(f"autocaption: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autocaption",
        description="Automatic captions for video uploads (Apache Beam + faster-whisper).",
        epilog="Unknown --options are passed to Beam as pipeline options.",
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("AUTOCAPTION_LOG_LEVEL", "WARNING"),
        help="log level for autocaption and Beam (default: WARNING)",
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=os.environ.get("AUTOCAPTION_LOG_FORMAT", "text"),
        help="json: one JSON object per line, for log collectors",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    caption = commands.add_parser(
        "caption",
        help="caption local files in one Beam pipeline",
        description="Caption media files: DIR/<video_id>/ gets <lang>.vtt, <lang>.srt, "
        "transcript.json and manifest.json (written last). Exit 0 only if every input succeeded.",
    )
    caption.add_argument("inputs", nargs="+", metavar="INPUT", help="media files")
    caption.add_argument(
        "--out", required=True, metavar="DIR", help="output folder (or a storage URL)"
    )
    add_common_options(caption)
    caption.set_defaults(run=run_caption)

    stream = commands.add_parser(
        "stream",
        help="the service: video.uploaded events in, captions.ready/failed events out",
        description="Consume video.uploaded, caption each upload, write tracks to storage and "
        "produce captions.ready or captions.failed. On the local runner it runs micro-batches "
        "and commits offsets only after a batch's outputs are durable; SIGTERM finishes the "
        "running batch, a second SIGTERM abandons it (uncommitted, so it is replayed).",
    )
    add_kafka_options(stream)
    stream.add_argument("--storage", **_required_env("storage"), help="storage URL for tracks")
    add_option(
        stream,
        "--max-batch-records",
        type=int,
        default=50,
        help="uploads per micro-batch at most (local runner)",
    )
    add_option(
        stream,
        "--max-batch-wait",
        type=float,
        default=2.0,
        help="seconds to gather a micro-batch after its first upload (local runner)",
    )
    add_option(
        stream,
        "--file-root",
        default=None,
        help="accept file:// sources under this folder (by default only s3:// sources)",
    )
    add_option(
        stream,
        "--max-source-bytes",
        type=int,
        default=8 * 2**30,
        help="largest s3:// source staged for decoding (default 8 GiB)",
    )
    add_option(
        stream,
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus /metrics (and /healthz) on this port",
    )
    add_option(
        stream,
        "--exit-when-idle",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop after this long without uploads (draining, tests)",
    )
    add_common_options(stream)
    stream.set_defaults(run=run_stream)

    publish = commands.add_parser(
        "publish",
        help="upload a file to storage and publish its video.uploaded event",
        description="Upload FILE to videos/<video_id>/<name> in storage, then produce the "
        "video.uploaded event (key = video_id). Prints the event.",
    )
    publish.add_argument("file", metavar="FILE")
    add_kafka_options(publish)
    publish.add_argument("--storage", **_required_env("storage"), help="storage URL for uploads")
    publish.add_argument("--video-id", help="default: derived from the file name")
    publish.add_argument("--language", help="spoken language code (default: detect)")
    publish.add_argument("--translate-to", default="", help="'en' for an English track too")
    publish.add_argument("--hotwords", help="the upload's vocabulary, e.g. 'ComfyUI, Kubernetes'")
    publish.add_argument("--initial-prompt", help="text the model reads before the speech")
    publish.set_defaults(run=run_publish)

    serve = commands.add_parser(
        "serve",
        help="the HTTP gateway: uploads, status, video and caption origin, player page",
        description="Serve the HTTP API: POST /v1/videos stores an upload and publishes its "
        "video.uploaded event; GET /v1/videos/{id} (status), /source, /captions/{lang}.vtt|.srt, "
        "/watch/{id}, /healthz, /openapi.json. SIGTERM stops it gracefully.",
    )
    serve.add_argument("--storage", **_required_env("storage"), help="storage URL (as `stream`)")
    add_kafka_options(serve)
    add_option(serve, "--host", default="0.0.0.0", help="default 0.0.0.0")
    add_option(serve, "--port", type=int, default=8080, help="default 8080")
    serve.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help="key required for uploads (Authorization: Bearer KEY); repeat or comma-separate "
        "several to rotate keys; env AUTOCAPTION_API_KEY. None: uploads are open",
    )
    add_option(
        serve,
        "--max-upload-bytes",
        type=int,
        default=2 * 2**30,
        help="largest accepted upload (default 2 GiB); larger bodies get 413",
    )
    add_option(
        serve,
        "--public-url",
        default=None,
        help="base URL for the URLs in answers, e.g. https://captions.example.com "
        "(default: from each request)",
    )
    serve.set_defaults(run=run_serve)

    from pipelines.caption_backfill import add_command as add_backfill_command

    add_backfill_command(commands)
    return parser


def _required_env(name: str) -> dict[str, Any]:
    """argparse settings for an option that is required unless its environment variable is set."""
    value = env_default(name, None)
    return {"default": value, "required": value is None}


def add_kafka_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("kafka")
    group.add_argument(
        "--bootstrap-servers", **_required_env("bootstrap_servers"), help="Kafka brokers H:P,..."
    )
    add_option(group, "--group-id", default="autocaption")
    group.add_argument(
        "--kafka-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra librdkafka setting for every client (repeatable), e.g. security.protocol=SSL",
    )
    add_option(group, "--uploaded-topic", default="video.uploaded")
    add_option(group, "--ready-topic", default="captions.ready")
    add_option(group, "--failed-topic", default="captions.failed")
    group.add_argument(
        "--create-topics",
        action="store_true",
        help="create the three topics if missing (3 partitions each)",
    )


def kafka_config(args: argparse.Namespace) -> Any:
    from connectors.kafka import KafkaConfig

    options = []
    for item in args.kafka_option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--kafka-option: expected KEY=VALUE, got {item!r}")
        options.append((key.strip(), value.strip()))
    return KafkaConfig(args.bootstrap_servers, args.group_id, tuple(options))


def resolve_model(name_or_path: str) -> tuple[str, str]:
    """(path to load, label for manifests). A name is downloaded now, so a missing network is
    one clear error before any work starts, not a crash inside a worker."""
    if os.path.isdir(name_or_path):
        if not os.path.isfile(os.path.join(name_or_path, "model.bin")):
            raise UsageError(f"--model: {name_or_path} has no model.bin (not a CTranslate2 model)")
        return os.path.abspath(name_or_path), os.path.basename(os.path.normpath(name_or_path))
    if os.sep in name_or_path or name_or_path.startswith("."):
        raise UsageError(f"--model: no such folder {name_or_path}")
    from faster_whisper.utils import download_model

    try:
        return download_model(name_or_path), name_or_path
    except ValueError as exc:
        raise UsageError(f"--model: {exc}") from None
    except Exception as exc:
        raise UsageError(
            f"--model: could not download {name_or_path!r} ({type(exc).__name__}); "
            "offline, pass a local CTranslate2 folder: --model /path/to/model"
        ) from None


def run_caption(args: argparse.Namespace, beam_args: list[str]) -> int:
    from connectors.storage import manifest_key, open_store
    from pipelines.caption_files import (
        caption_files,
        refused_input,
        requests_for_files,
        source_uri,
    )
    from schemas.manifest import Manifest
    from transforms import caption

    try:
        store = open_store(args.out)
    except ValueError as exc:
        raise UsageError(f"--out: {exc}") from None
    args.model, args.model_label = resolve_model(args.model)
    options = replace(caption_options(args, store.url), captions_root="")
    refused = {given: refused_input(given) for given in args.inputs}
    requests = requests_for_files([given for given, why in refused.items() if why is None])
    taken = {r.video_id for r in requests}
    for failure in refused.values():
        if failure is not None and failure.video_id not in taken:  # a name of its own only
            manifest = Manifest.failed(failure, model=args.model_label)
            store.put_bytes(
                manifest_key(manifest.video_id, root=""),
                manifest.to_json().encode("utf-8"),
                "application/json",
            )
    progress = Progress(len(requests)) if sys.stderr.isatty() else None
    caption.progress_listener = progress.on_event if progress else None
    started = time.monotonic()
    try:
        pipeline = make_pipeline(args.runner, beam_args)
        caption_files(pipeline, requests, options)
        pipeline.run().wait_until_finish()
    finally:
        caption.progress_listener = None

    failed = 0
    for given, failure in refused.items():
        if failure is not None:
            failed += 1
            print(f"ERROR {given}: {failure.code}: {failure.message}", file=sys.stderr)
    given_as = {source_uri(i): i for i in reversed(args.inputs)}  # as the user typed it
    for request in requests:
        given = given_as[request.source]
        key = manifest_key(request.video_id, root="")
        if not store.exists(key):
            failed += 1
            print(f"ERROR {given}: internal: no manifest was written", file=sys.stderr)
            continue
        manifest = Manifest.from_json(store.get_bytes(key))
        if manifest.status != "ready":
            failed += 1
            error = manifest.error
            code, message = (error.code, error.message) if error else ("internal", "unknown")
            print(f"ERROR {given}: {code}: {message}", file=sys.stderr)
    if progress:
        progress.done(len(requests) - failed, failed, time.monotonic() - started)
    return 1 if failed else 0


def run_stream(args: argparse.Namespace, beam_args: list[str]) -> int:
    from connectors.kafka import ensure_topics
    from connectors.prometheus import ServiceMetrics, serve_metrics
    from connectors.storage import open_store
    from pipelines.caption_stream import (
        Shutdown,
        StreamSettings,
        Topics,
        build_unbounded,
        run_micro_batches,
    )
    from pipelines.options import LOCAL_RUNNERS

    try:
        store = open_store(args.storage)
    except ValueError as exc:
        raise UsageError(f"--storage: {exc}") from None
    if args.max_batch_records < 1 or args.max_batch_wait < 0:
        raise UsageError("--max-batch-records must be >= 1 and --max-batch-wait >= 0")
    args.model, args.model_label = resolve_model(args.model)
    options = replace(
        caption_options(args, store.url),
        reuse_existing=True,
        file_root=os.path.abspath(args.file_root) if args.file_root else None,
        max_source_bytes=args.max_source_bytes,
    )
    topics = Topics(args.uploaded_topic, args.ready_topic, args.failed_topic)
    settings = StreamSettings(
        kafka_config(args), options, topics, args.max_batch_records, args.max_batch_wait
    )
    if args.create_topics:
        ensure_topics(settings.kafka, [topics.uploaded, topics.ready, topics.failed])
    metrics = ServiceMetrics()
    if args.metrics_port is not None:
        server = serve_metrics(metrics, int(args.metrics_port))
        log.info("metrics on :%d/metrics", server.server_address[1])
    if args.runner.lower() not in LOCAL_RUNNERS:
        pipeline = make_pipeline(args.runner, [*beam_args, "--streaming"])
        idle = float(args.exit_when_idle) if args.exit_when_idle is not None else None
        build_unbounded(pipeline, settings, stop_after_idle_s=idle)
        pipeline.run().wait_until_finish()
        return 0
    shutdown = Shutdown()
    shutdown.install()
    log.info(
        "stream: %s -> %s, %s (group %s, storage %s)",
        topics.uploaded,
        topics.ready,
        topics.failed,
        settings.kafka.group_id,
        store.url,
        extra={"event": "started"},
    )
    run_micro_batches(
        settings,
        lambda: make_pipeline(args.runner, beam_args),
        metrics=metrics,
        shutdown=shutdown,
        idle_exit_s=float(args.exit_when_idle) if args.exit_when_idle is not None else None,
    )
    log.info("stream: stopped", extra={"event": "stopped"})
    return 0


def run_publish(args: argparse.Namespace, beam_args: list[str]) -> int:
    from connectors.kafka import produce_once
    from connectors.storage import open_store, upload_key
    from schemas.errors import CaptionError
    from schemas.events import UploadRequest, utc_timestamp, video_id_from_filename

    if beam_args:
        raise UsageError(f"unknown options: {' '.join(beam_args)}")
    if not os.path.isfile(args.file):
        raise UsageError(f"no such file: {args.file}")
    try:
        store = open_store(args.storage)
    except ValueError as exc:
        raise UsageError(f"--storage: {exc}") from None
    name = os.path.basename(args.file)
    video_id = args.video_id or video_id_from_filename(name)
    translate_to = tuple(t.strip() for t in args.translate_to.split(",") if t.strip())
    try:
        key = upload_key(video_id, name)
        source = store.put_file(key, args.file)
        request = UploadRequest(
            video_id=video_id,
            source=source,
            language=args.language,
            translate_to=translate_to,
            event_id=str(uuid.uuid4()),
            occurred_at=utc_timestamp(),
            hotwords=args.hotwords or None,
            initial_prompt=args.initial_prompt or None,
        )
    except (CaptionError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    if args.create_topics:
        from connectors.kafka import ensure_topics

        ensure_topics(
            kafka_config(args), [args.uploaded_topic, args.ready_topic, args.failed_topic]
        )
    produce_once(kafka_config(args), args.uploaded_topic, video_id, request.to_json().encode())
    print(request.to_json())
    return 0


def run_serve(args: argparse.Namespace, beam_args: list[str]) -> int:
    import uvicorn

    from connectors.kafka import ensure_topics
    from gateway.app import GatewaySettings, create_app

    if beam_args:
        raise UsageError(f"unknown options: {' '.join(beam_args)}")
    keys = [
        k.strip() for item in args.api_key or [env_default("api_key", "")] for k in item.split(",")
    ]
    if args.max_upload_bytes < 1 or not 0 <= args.port < 65536:
        raise UsageError("--max-upload-bytes must be >= 1 and --port 0-65535")
    settings = GatewaySettings(
        storage=args.storage,
        kafka=kafka_config(args),
        uploaded_topic=args.uploaded_topic,
        api_keys=tuple(k for k in keys if k),
        max_upload_bytes=args.max_upload_bytes,
        public_url=args.public_url,
    )
    try:
        app = create_app(settings)
    except ValueError as exc:
        raise UsageError(f"--storage: {exc}") from None
    if args.create_topics:
        ensure_topics(settings.kafka, [args.uploaded_topic, args.ready_topic, args.failed_topic])
    # Request lines are the gateway's own (autocaption.gateway, INFO), whatever --log-level says.
    gateway_log = logging.getLogger("autocaption.gateway")
    gateway_log.setLevel(min(logging.INFO, logging.getLogger().level))
    if not settings.api_keys:
        log.warning("serve: no --api-key given: anyone can upload")
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_config=None,  # our logging setup (text or JSON) stays in charge
        access_log=False,  # the gateway logs each request itself
        timeout_graceful_shutdown=30,
    )
    # uvicorn handles SIGTERM (stop accepting, finish requests) and then raises it again under
    # the handler it found; with this one in place, a graceful stop exits 0, as `stream` does.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    uvicorn.Server(config).run()
    return 0


class Progress:
    """Per-file and overall progress on a terminal (stderr); silent otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.finished = 0
        self.chunks: dict[str, int] = {}
        self.started = time.monotonic()

    def on_event(self, event: str, video_id: str, detail: dict[str, Any]) -> None:
        if event == "chunk":
            self.chunks[video_id] = detail["index"]
            self._status(f"{video_id}: {detail['index']} speech chunks decoded")
        elif event in ("ready", "failed", "skipped"):
            self.finished += 1
            result: Any = detail.get("result")
            if event == "ready":
                what = f" ({result.cues} cues)"
            elif event == "failed":
                what = f" ({result.failure.code})"
            else:
                what = " (already captioned)"
            self._line(f"[{self.finished}/{self.total}] {video_id}: {event}{what}{self._eta()}")

    def _eta(self) -> str:
        """Time left at the pace so far (once anything has finished)."""
        left = self.total - self.finished
        if not self.finished or not left:
            return ""
        seconds = (time.monotonic() - self.started) / self.finished * left
        return (
            f", about {seconds / 60:.0f} min left" if seconds >= 90 else f", ~{seconds:.0f} s left"
        )

    def done(self, ready: int, failed: int, seconds: float) -> None:
        self._line(f"{ready} ready, {failed} failed in {seconds:.1f} s")

    def _status(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        sys.stderr.write(f"\r\033[K[{self.finished}/{self.total}] {elapsed:5.0f}s {text}"[:160])
        sys.stderr.flush()

    def _line(self, text: str) -> None:
        sys.stderr.write(f"\r\033[K{text}\n")
        sys.stderr.flush()


# glibc gives each thread that allocates concurrently an arena of its own; the inference workers
# and the stage threads then hold freed memory in several arenas. Two arenas measured the same
# speed and about 70 MiB less peak memory on the 10-minute benchmark talk (868 -> 802 MiB).
M_ARENA_MAX = -8
MALLOC_ARENAS = 2


def limit_malloc_arenas() -> None:
    """Cap glibc's malloc arenas (no-op elsewhere, or when MALLOC_ARENA_MAX is set)."""
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        pass


def entry() -> None:
    """The console script: run, flush, and leave without interpreter teardown.

    Native libraries' thread pools (CTranslate2, ONNX Runtime, Arrow) can abort the process
    while Python tears down ("terminate called without an active exception", exit 134) after
    all work is done; every output is already durable here, so skip that teardown."""
    limit_malloc_arenas()
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
