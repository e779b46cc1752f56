"""`autocaption serve` as a subprocess on a free port, started as a user starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest

from devtools.services import free_port
from tests.stream_service import Service, running, wait_for_topics

ROOT = Path(__file__).resolve().parents[1]


class Gateway:
    """One gateway process; `url` is its base URL once `start` returned."""

    def __init__(self, bootstrap: str, storage: str, uploaded_topic: str, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [
            sys.executable, "-m", "pipelines.cli", "--log-format", "json",
            "serve", "--storage", storage, "--bootstrap-servers", bootstrap,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--uploaded-topic", uploaded_topic, *extra,
        ]  # fmt: skip
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"gateway-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited {self.process.returncode}: {self.log_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"gateway not up after {timeout_s} s: {self.log_text()}")

    def stop(self, timeout_s: float = 30) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def serving(gateway: Gateway) -> Iterator[Gateway]:
    """The gateway, started and stopped; its log must hold no traceback."""
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()
    assert "Traceback" not in gateway.log_text(), gateway.log_text()[-4000:]


def fresh_storage(kind: str, tag: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(storage URL, bucket name) of new, empty storage: `kind` "s3", a bucket made on the S3
    test server; "folder", a local folder (the bucket name then goes unused)."""
    bucket = f"{tag}-{uuid.uuid4().hex[:12]}"
    if kind == "s3":
        boto3.client("s3").create_bucket(Bucket=bucket)
        return f"s3://{bucket}", bucket
    return str(tmp_path_factory.mktemp(tag)), bucket


@contextmanager
def stream_and_gateway(
    bootstrap: str,
    storage: str,
    model: Path,
    prefix: str,
    api_key: str,
    bucket: str = "",
    *gateway_args: str,
) -> Iterator[tuple[Service, Gateway]]:
    """`autocaption stream` and `autocaption serve` on one storage, the gateway publishing to
    the service's topics (names starting with `prefix`), both up and the topics made."""
    service = Service(bootstrap, bucket, model, prefix, f"g-{prefix}", storage)
    gateway = Gateway(
        bootstrap, storage, service.topics["video.uploaded"], "--api-key", api_key,
        "--updated-topic", service.topics["captions.updated"],
        "--deleted-topic", service.topics["video.deleted"], *gateway_args,
    )  # fmt: skip
    with running(service), serving(gateway):
        wait_for_topics(bootstrap, list(service.topics.values()))
        yield service, gateway
