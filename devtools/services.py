"""Real test services on free loopback ports: an Apache Kafka broker and moto_server (S3), and
Beam's Prism runner built from the Go module proxy.

Started once per test session by `tests/integration/conftest.py`, stopped at its end. When
`AUTOCAPTION_TEST_BOOTSTRAP_SERVERS` or `AWS_ENDPOINT_URL` is set, that server is used instead.

Kafka is Apache Kafka itself (KRaft, one node that is broker and controller), from the Maven
Central jars that `deploy/kafka/pom.xml` pins, copied once into `~/.cache/autocaption/jvm/`
(`$XDG_CACHE_HOME` is honoured) with Maven's strict checksums. Topics are not created on first
use (`auto.create.topics.enable=false`), as in production.

Prism is `go install github.com/apache/beam/sdks/v2/go/cmd/prism@v<the Beam version we pin>`,
verified by Go's checksum database as every module download is, and kept in
`~/.cache/autocaption/prism/`. `python -m devtools.services prism` builds it (about a minute)
and prints its path; `python -m devtools.services broker` runs a broker on localhost:9092 until
Ctrl-C.
"""

from __future__ import annotations

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

from connectors.weights import user_cache

REPO = Path(__file__).resolve().parents[1]
KAFKA_POM = REPO / "deploy" / "kafka" / "pom.xml"
KAFKA_VERSION = "4.4.0"  # as in deploy/kafka/pom.xml and docker-compose.yml
KAFKA_HEAP = ("-Xms256m", "-Xmx512m")
CLUSTER_ID = "autocaptionTestClstr0"  # 22 characters, as KRaft wants; one node, one cluster


def prism_binary() -> Path:
    """Beam's Prism runner at the version of the installed Beam SDK, built once and cached."""
    from importlib import metadata

    version = metadata.version("apache-beam")
    folder = user_cache() / "prism" / f"v{version}"
    binary = folder / "prism"
    if binary.exists():
        return binary
    go = shutil.which("go") or next(
        (g for g in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go") if os.path.exists(g)), None
    )
    if go is None:
        raise RuntimeError("building Beam's Prism runner needs Go (Debian's `golang` package)")
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    module = f"github.com/apache/beam/sdks/v2/go/cmd/prism@v{version}"
    result = subprocess.run(
        [go, "install", module],
        env={**os.environ, "GOBIN": str(staging), "CGO_ENABLED": "0"},
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if result.returncode != 0 or not (staging / "prism").exists():
        raise RuntimeError(f"building Prism {version} failed: {result.stderr[-2000:]}")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return binary


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


def _stop(process: subprocess.Popen[bytes], timeout_s: float = 5.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def kafka_jars() -> Path:
    """The folder of the broker's jars, copied from Maven Central on first use."""
    folder = user_cache() / "jvm" / f"kafka-{KAFKA_VERSION}"
    if (folder / ".complete").exists():
        return folder
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("the test broker needs Maven (mvn) to fetch Apache Kafka's jars")
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    command = [mvn, "-q", "-B", "-C", "-f", str(KAFKA_POM), "dependency:copy-dependencies"]
    result = subprocess.run(
        [*command, f"-DoutputDirectory={staging}"], capture_output=True, text=True, timeout=900
    )
    if result.returncode != 0:
        raise RuntimeError(f"fetching Apache Kafka {KAFKA_VERSION} failed: {result.stdout[-2000:]}")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    (folder / ".complete").write_text(KAFKA_VERSION)
    return folder


class KafkaBroker:
    """One Apache Kafka node (broker and controller) on free loopback ports, with its data in a
    folder of its own; `stop` and `start` again keep the data and the ports (a restart)."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root
        self.port, self.controller_port = port or free_port(), free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = root / "broker.log"
        self.config = root / "server.properties"
        self.config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={root / 'data'}",
                    "num.partitions=3",
                    "auto.create.topics.enable=false",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=3",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "group.min.session.timeout.ms=1000",
                    "",
                ]
            )
        )
        self._format()

    def _java(self, args: list[str]) -> list[str]:
        classpath = f"{kafka_jars()}/*"
        return ["java", *KAFKA_HEAP, "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-cp", classpath, *args]  # fmt: skip

    def _format(self) -> None:
        command = self._java(
            ["kafka.tools.StorageTool", "format", "-t", CLUSTER_ID, "-c", str(self.config)]
        )
        result = subprocess.run(command, capture_output=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"formatting Kafka storage failed: {result.stderr.decode()[-2000:]}")

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the node and wait until it answers metadata requests."""
        from confluent_kafka.admin import AdminClient

        log = open(self.log_path, "ab")  # noqa: SIM115 (the broker's log, kept for the tests)
        self.process = subprocess.Popen(
            self._java(["kafka.Kafka", str(self.config)]), stdout=log, stderr=subprocess.STDOUT
        )
        log.close()  # the child has its own descriptor
        wait_for_port(self.port, self.process, timeout_s)
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if admin.list_topics(timeout=2).brokers:
                    return
            except Exception:  # not ready yet
                time.sleep(0.2)
        raise RuntimeError(f"Kafka did not answer after {timeout_s} s: {self.log_text()[-2000:]}")

    def stop(self) -> None:
        """Stop the node (SIGTERM: a clean shutdown, as an operator's restart does)."""
        if self.process is not None:
            _stop(self.process, timeout_s=30)
            self.process = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def kafka_broker() -> Iterator[str]:
    """Bootstrap servers of a fresh Apache Kafka node (or the configured one)."""
    configured = os.environ.get("AUTOCAPTION_TEST_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    with running_kafka() as broker:
        yield broker.bootstrap


@contextmanager
def running_kafka() -> Iterator[KafkaBroker]:
    """A fresh Apache Kafka node of its own, stopped and deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="autocaption-kafka-") as root:
        broker = KafkaBroker(Path(root))
        broker.start()
        try:
            yield broker
        finally:
            broker.stop()


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


def serve_broker(port: int) -> None:
    """Run one Apache Kafka node on 127.0.0.1:`port` until interrupted (for trying the stack on
    one machine without Docker)."""
    with tempfile.TemporaryDirectory(prefix="autocaption-kafka-") as root:
        broker = KafkaBroker(Path(root), port)
        broker.start()
        print(f"Apache Kafka {KAFKA_VERSION} on {broker.bootstrap} (Ctrl-C stops it)", flush=True)
        try:
            while broker.process is not None and broker.process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            broker.stop()


if __name__ == "__main__":
    if sys.argv[1:] == ["prism"]:
        print(prism_binary())
    elif sys.argv[1:] == ["kafka"]:
        print(kafka_jars())
    elif sys.argv[1:2] == ["broker"]:
        serve_broker(int(sys.argv[2]) if len(sys.argv) > 2 else 9092)
    else:
        sys.exit("usage: python -m devtools.services prism | kafka | broker [PORT]")
