"""`autocaption serve`: the HTTP gateway (uploads, status, origin, player page)."""

from __future__ import annotations

import argparse
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.options import (
    UsageError,
    add_kafka_options,
    add_option,
    create_topics_if_asked,
    env_default,
    kafka_config,
    required_env,
    translator_options,
)

if TYPE_CHECKING:
    from gateway.tokens import TokenKeys

log = logging.getLogger("autocaption")


def add_parser(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="the HTTP gateway: uploads, status, video and caption origin, player page",
        description="Serve the HTTP API and the pages: POST /v1/videos stores an upload and "
        "publishes its video.uploaded event; GET /v1/videos/{id} (status), /source, "
        "/captions/{lang}.vtt|.srt, /transcript; the captions API (/v1/videos/{id}/captions); "
        "GET /v1/videos (the library), DELETE /v1/videos/{id}, POST /v1/videos/{id}/token "
        "(private videos); GET / (library and upload page), /watch/{id} (player and caption "
        "editor), /healthz, /openapi.json. "
        "SIGTERM stops it gracefully.",
    )
    serve.add_argument("--storage", **required_env("storage"), help="storage URL (as `stream`)")
    add_kafka_options(serve)
    add_option(serve, "--host", default="0.0.0.0", help="default 0.0.0.0")
    add_option(serve, "--port", type=int, default=8080, help="default 8080")
    serve.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help="key required for uploads and caption changes (Authorization: Bearer KEY); repeat "
        "or comma-separate several to rotate keys; env AUTOCAPTION_API_KEY. None: writes are open",
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
        "--caption-max-age",
        type=int,
        default=60,
        help="seconds a cache may serve a caption track before asking again (default 60): an "
        "edit reaches viewers behind a CDN within this time",
    )
    add_option(
        serve,
        "--public-url",
        default=None,
        help="base URL for the URLs in answers, e.g. https://captions.example.com "
        "(default: from each request)",
    )
    serve.add_argument(
        "--signing-key",
        action="append",
        default=[],
        metavar="SECRET",
        help="HS256 key of private videos' playback tokens (at least 32 bytes); repeat or "
        "comma-separate to rotate (the first signs, all verify); env AUTOCAPTION_SIGNING_KEY. "
        "None: the gateway issues no token",
    )
    serve.add_argument(
        "--token-public-key",
        action="append",
        default=[],
        metavar="PEM_FILE",
        help="an Ed25519 public key (PEM) whose tokens (EdDSA) the gateway accepts: a "
        "publisher's backend signs them with its private key; repeat for several",
    )
    add_option(
        serve,
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="addresses of the proxies whose X-Forwarded-For names the client (for tokens bound "
        "to an IP); default 127.0.0.1, '*' trusts any",
    )
    add_option(
        serve,
        "--translators",
        default="firefox",
        help="text translators (as `stream`'s): the subtitle languages uploads may ask for, and "
        "what makes a machine translation again after a person corrects its source",
    )
    serve.set_defaults(run=run, parser=serve, takes_beam_options=False)


def token_keys(args: argparse.Namespace) -> TokenKeys:
    """The playback token keys of --signing-key and --token-public-key; UsageError."""
    from gateway.tokens import TokenKeys, load_public_key

    secrets = [
        k.strip()
        for item in args.signing_key or [env_default("signing_key", "")]
        for k in item.split(",")
    ]
    public_keys = []
    for path in args.token_public_key:
        try:
            public_keys.append(load_public_key(Path(path).read_bytes()))
        except (OSError, ValueError) as exc:
            raise UsageError(f"--token-public-key {path}: {exc}") from None
    try:
        return TokenKeys(tuple(k for k in secrets if k), tuple(public_keys))
    except ValueError as exc:
        raise UsageError(f"--signing-key: {exc}") from None


def run(args: argparse.Namespace, beam_args: list[str]) -> int:
    """Serve until SIGTERM; a graceful stop exits 0."""
    import uvicorn

    from gateway.app import GatewaySettings, create_app

    keys = [
        k.strip() for item in args.api_key or [env_default("api_key", "")] for k in item.split(",")
    ]
    if args.max_upload_bytes < 1 or not 0 <= args.port < 65536:
        raise UsageError("--max-upload-bytes must be >= 1 and --port 0-65535")
    if args.caption_max_age < 0:
        raise UsageError("--caption-max-age must be 0 or more seconds")
    settings = GatewaySettings(
        storage=args.storage,
        kafka=kafka_config(args),
        uploaded_topic=args.uploaded_topic,
        updated_topic=args.updated_topic,
        deleted_topic=args.deleted_topic,
        api_keys=tuple(k for k in keys if k),
        max_upload_bytes=args.max_upload_bytes,
        public_url=args.public_url,
        caption_max_age_s=args.caption_max_age,
        translators=translator_options(args),
        tokens=token_keys(args),
    )
    try:
        app = create_app(settings)
    except ValueError as exc:
        raise UsageError(f"--storage: {exc}") from None
    create_topics_if_asked(args)
    # Request lines are the gateway's own (autocaption.gateway, INFO), whatever --log-level says.
    gateway_log = logging.getLogger("autocaption.gateway")
    gateway_log.setLevel(min(logging.INFO, logging.getLogger().level))
    if not settings.api_keys:
        log.warning("serve: no --api-key given: anyone can upload and change captions")
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_config=None,  # our logging setup (text or JSON) stays in charge
        access_log=False,  # the gateway logs each request itself
        timeout_graceful_shutdown=30,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
    )
    # uvicorn handles SIGTERM (stop accepting, finish requests) and then raises it again under
    # the handler it found; with this one in place, a graceful stop exits 0, as `stream` does.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    uvicorn.Server(config).run()
    return 0
