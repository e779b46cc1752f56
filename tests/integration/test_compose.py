"""The deployment files: docker-compose.yml as docker-compose resolves it, and deploy/nginx.conf.

No Docker engine is needed: `docker-compose config` (Debian's docker-compose 1.29) validates and
resolves the file, and `nginx -t` (Debian's nginx-light) checks the nginx configuration. Both
tools are required; a missing one fails these tests rather than skipping them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from captions.cues import Cue
from connectors.storage.file_store import FileStore
from devtools.services import free_port, wait_for_port
from gateway.tokens import TokenKeys, issue
from library.catalog import VideoRecord, register
from library.revisions import commit_generated
from schemas.manifest import Manifest
from tests.gateway_process import Gateway, serving

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not on PATH: install Debian's `{package}` package", False)
    return path


def _config(*files: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    tool = _tool("docker-compose", "docker-compose")
    args = [tool]
    for f in files:
        args += ["-f", str(f)]
    done = subprocess.run(
        [*args, "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, f"docker-compose config failed:\n{done.stderr}"
    assert "WARNING" not in done.stderr, done.stderr  # e.g. an unset variable without default
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    # An empty environment (PATH only): every variable must have its default in the file.
    import os

    return _config(COMPOSE, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else list(command)


def test_services(config: dict[str, Any]) -> None:
    assert set(config["services"]) == {
        "kafka",
        "minio",
        "minio-init",
        "worker",
        "backfill-worker",
        "flink-jobmanager",
        "flink-taskmanager",
        "beam-job-server",
        "stream-job",
        "gateway",
        "cache",
    }


def test_the_worker_fleet_is_the_default_shape_and_flink_a_profile(config: dict[str, Any]) -> None:
    services = config["services"]
    for name in ("flink-jobmanager", "flink-taskmanager", "beam-job-server", "stream-job"):
        assert services[name]["profiles"] == ["flink"], name
    for name, topic, group in (("worker", None, "autocaption"),
                               ("backfill-worker", "video.backfill", "backfill")):  # fmt: skip
        worker = services[name]
        assert "profiles" not in worker
        # scales with --scale NAME=N: no fixed container name, no published port
        assert "container_name" not in worker and "ports" not in worker
        command = _command(worker)
        assert worker["entrypoint"] == ["autocaption"] and "stream" in command
        assert command[command.index("--group-id") + 1] == group
        assert command[command.index("--storage") + 1] == "s3://captions"
        if topic:
            assert command[command.index("--uploaded-topic") + 1] == topic
        else:
            assert "--uploaded-topic" not in command and "--runner" not in command
        assert worker["environment"]["AWS_ENDPOINT_URL"] == "http://minio:9000"


def test_volumes(config: dict[str, Any]) -> None:
    assert {"models", "minio-data", "flink-artifacts", "nginx-cache"} <= set(config["volumes"])
    services = config["services"]
    mounts = {
        name: {str(v).split(":")[0]: str(v).split(":")[1] for v in s.get("volumes", [])}
        for name, s in services.items()
    }
    assert mounts["minio"]["minio-data"] == "/data"
    assert mounts["cache"]["nginx-cache"] == "/var/cache/nginx"
    assert any(k.endswith("deploy/nginx.conf") for k in mounts["cache"])
    # artifacts staged by the job server are read by the TaskManagers at the same path
    assert mounts["beam-job-server"]["flink-artifacts"] == "/tmp/beam-artifact-staging"
    assert mounts["flink-taskmanager"]["flink-artifacts"] == "/tmp/beam-artifact-staging"
    # the Whisper model cache is loaded where the SDK workers run: the TaskManagers
    assert mounts["flink-taskmanager"]["models"] == "/models"
    assert services["flink-taskmanager"]["environment"]["HF_HOME"] == "/models"


def _published(service: dict[str, Any]) -> set[int]:
    ports = set()
    for p in service.get("ports", []):
        if isinstance(p, dict):
            ports.add(int(p["published"]))
        else:
            ports.add(int(str(p).split(":")[-2]))
    return ports


def test_ports(config: dict[str, Any]) -> None:
    services = config["services"]
    assert 8080 in _published(services["cache"])
    assert "ports" not in services["gateway"], "the gateway is reached only through the cache"
    assert "8080" in [str(p) for p in services["gateway"].get("expose", [])]
    assert 8081 in _published(services["flink-jobmanager"])
    # no fixed host port on TaskManagers, so they can be scaled
    assert "ports" not in services["flink-taskmanager"]
    assert "container_name" not in services["flink-taskmanager"]


def test_kafka_kraft(config: dict[str, Any]) -> None:
    env = config["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "true"
    assert "healthcheck" in config["services"]["kafka"]


def test_minio_buckets(config: dict[str, Any]) -> None:
    init = " ".join(_command(config["services"]["minio-init"]))
    assert "local/media" in init and "local/captions" in init
    # private videos' captions are read only through the gateway, with a token: no public bucket
    assert "mc anonymous set none local/captions" in init and "download" not in init


def test_job_server_points_at_flink(config: dict[str, Any]) -> None:
    job_server = config["services"]["beam-job-server"]
    command = _command(job_server)
    assert "--flink-master=flink-jobmanager:8081" in command
    assert "--job-host=0.0.0.0" in command
    # the job server's Flink version is the cluster's
    flink_image = config["services"]["flink-jobmanager"]["image"]
    flink_version = re.match(r"flink:(\d+\.\d+)", flink_image)
    assert flink_version, flink_image
    assert job_server["image"] == f"apache/beam_flink{flink_version[1]}_job_server:2.77.0"
    assert config["services"]["flink-taskmanager"]["build"]["args"]["FLINK_IMAGE"] == flink_image


def test_stream_job_runner_options(config: dict[str, Any]) -> None:
    job = config["services"]["stream-job"]
    assert job["entrypoint"] == ["autocaption"]
    command = _command(job)
    assert command[command.index("stream") :][:1] == ["stream"]
    for expected in (
        "PortableRunner",
        "--job_endpoint=beam-job-server:8099",
        "--artifact_endpoint=beam-job-server:8098",
        "--environment_type=EXTERNAL",
        "--environment_config=localhost:50000",
    ):
        assert expected in command, expected
    assert command[command.index("--runner") + 1] == "PortableRunner"
    assert command[command.index("--storage") + 1] == "s3://captions"
    assert command[command.index("--bootstrap-servers") + 1] == "kafka:9092"
    assert any(a.startswith("--checkpointing_interval=") for a in command)
    assert job["environment"]["AWS_ENDPOINT_URL"] == "http://minio:9000"
    assert job["depends_on"]["beam-job-server"]["condition"] == "service_healthy"
    assert job["depends_on"]["minio-init"]["condition"] == "service_completed_successfully"


def test_gateway_command(config: dict[str, Any]) -> None:
    gateway = config["services"]["gateway"]
    assert gateway["entrypoint"] == ["autocaption"]
    assert _command(gateway) == [
        "serve",
        "--storage",
        "s3://captions",
        "--bootstrap-servers",
        "kafka:9092",
        "--port",
        "8080",
        "--api-key",
        "change-me",
    ]
    assert gateway["environment"]["AWS_ENDPOINT_URL"] == "http://minio:9000"
    assert config["services"]["cache"]["depends_on"]["gateway"]["condition"] == "service_healthy"


def test_api_key_from_environment() -> None:
    import os

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AUTOCAPTION_API_KEY": "s3cret"}
    command = _command(_config(COMPOSE, env=env)["services"]["gateway"])
    assert command[command.index("--api-key") + 1] == "s3cret"


def test_gpu_override() -> None:
    import os

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    config = _config(COMPOSE, ROOT / "deploy" / "docker-compose.gpu.yml", env=env)
    for name in ("worker-gpu", "flink-taskmanager-gpu"):
        gpu = config["services"][name]
        devices = gpu["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
        assert Path(gpu["build"]["context"]) == ROOT
    assert "--device" in _command(config["services"]["worker-gpu"])
    assert config["services"]["flink-taskmanager-gpu"]["profiles"] == ["flink"]


def test_dockerfile() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "FROM apache/beam_python3.11_sdk:${BEAM_VERSION} AS app" in text
    assert "ARG BEAM_VERSION=2.77.0" in text
    assert "pip install -r requirements.lock" in text
    assert "pip install --no-deps ." in text
    assert 'ENTRYPOINT ["/opt/apache/beam/boot"]' in text
    assert "HF_HOME=/models" in text
    assert re.search(r"^USER autocaption$", text, re.M)
    # classic builder (docker-compose 1.29's default) has no --chmod / --mount
    instructions = "\n".join(x for x in text.splitlines() if not x.lstrip().startswith("#"))
    assert "--chmod" not in instructions and "--mount" not in instructions


# --- nginx -------------------------------------------------------------------------------


def _location(conf: str, pattern: str) -> str:
    start = conf.index(f"location {pattern} {{")
    depth = 0
    for i in range(start, len(conf)):
        if conf[i] == "{":
            depth += 1
        elif conf[i] == "}":
            depth -= 1
            if depth == 0:
                return conf[start : i + 1]
    raise AssertionError(f"unclosed location {pattern}")


def test_nginx_conf_text() -> None:
    conf = NGINX_CONF.read_text()
    assert re.search(r"proxy_cache_path \S+ .*keys_zone=autocaption:", conf)
    assert "client_max_body_size 2g;" in conf
    captions = _location(
        conf, r"~ ^/v1/videos/[^/]+/captions/([^/]+\.(vtt|srt)|[^/]+/revisions/[0-9]+\.vtt)$"
    )
    source = _location(conf, r"~ ^/v1/videos/[^/]+/source$")
    status = _location(conf, r"~ ^/v1/videos/[^/]+$")
    rest = _location(conf, "/")
    for cached in (captions, source):
        assert "proxy_cache autocaption;" in cached
        assert "proxy_cache_revalidate on;" in cached
        assert "proxy_cache_lock on;" in cached
        assert "proxy_cache_use_stale" in cached
        assert "add_header X-Cache-Status $upstream_cache_status" in cached
    assert "slice 1m;" in source
    assert "proxy_cache_key $uri$is_args$args$slice_range;" in source
    assert "proxy_set_header Range $slice_range;" in source
    assert "slice" not in captions
    for uncached in (status, rest):
        assert "proxy_cache off;" in uncached
    assert "proxy_request_buffering off;" in rest  # uploads stream through
    # only GET/HEAD are ever cached: nginx's default, never widened to POST
    directives = "\n".join(x for x in conf.splitlines() if not x.lstrip().startswith("#"))
    assert "proxy_cache_methods" not in directives


def test_nginx_accepts_conf(tmp_path: Path) -> None:
    nginx = _tool("nginx", "nginx-light")
    conf = NGINX_CONF.read_text()
    # the same file, with the paths the container owns moved into tmp_path
    conf = conf.replace("/var/cache/nginx/autocaption", str(tmp_path / "cache"))
    conf = conf.replace("/dev/stderr", str(tmp_path / "error.log"))
    conf = conf.replace("/dev/stdout", str(tmp_path / "access.log"))
    test_conf = tmp_path / "nginx.conf"
    test_conf.write_text(conf)
    done = subprocess.run(
        [
            nginx,
            "-t",
            "-q",
            "-e",
            str(tmp_path / "error.log"),
            "-p",
            str(tmp_path),
            "-c",
            str(test_conf),
            "-g",
            f"pid {tmp_path / 'nginx.pid'};",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, f"nginx -t rejected deploy/nginx.conf:\n{done.stderr}"


def test_an_edit_reaches_viewers_through_the_cache_within_its_max_age(
    tmp_path: Path, bootstrap_servers: str
) -> None:
    """deploy/nginx.conf for real, in front of a real gateway (caption max-age 2 s): the cache
    serves a track, keeps serving it right after an edit, and serves the edit once the max-age
    has passed; a private video's track is never stored nor served from it."""
    nginx = _tool("nginx", "nginx-light")
    storage = FileStore(tmp_path / "storage")
    manifest = Manifest.ready(
        "clip", "file:///x.mp4", duration_s=10.0, language="en", tracks=(), model="m", cues=1
    )
    storage.put_bytes("videos/clip/clip.mp4", b"\x00\x00\x00\x18ftypmp42")
    storage.put_bytes("captions/clip/manifest.json", manifest.to_json().encode())
    commit_generated(storage, "clip", "en", [Cue(1.0, 2.0, ("first words",), ())], kind="captions")
    register(storage, VideoRecord("secret", "secret.mp4", "2026-12-07T10:00:00.000Z", True))
    storage.put_bytes("captions/secret/manifest.json", manifest.to_json().encode())
    cue = [Cue(1.0, 2.0, ("private words",), ())]
    commit_generated(storage, "secret", "en", cue, kind="captions")
    prefix = f"cache{uuid.uuid4().hex[:6]}."
    signing_key = "n" * 32
    gateway = Gateway(bootstrap_servers, str(storage.root), f"{prefix}video.uploaded",
                      "--updated-topic", f"{prefix}captions.updated", "--create-topics",
                      "--caption-max-age", "2", "--signing-key", signing_key)  # fmt: skip
    port = free_port()
    conf = NGINX_CONF.read_text()
    conf = conf.replace("/var/cache/nginx/autocaption", str(tmp_path / "cache"))
    conf = conf.replace("/dev/stderr", str(tmp_path / "error.log"))
    conf = conf.replace("/dev/stdout", str(tmp_path / "access.log"))
    conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("http://gateway:8080", gateway.url)
    if os.geteuid() == 0:  # workers keep the test's user, who owns the cache folder
        conf = "user root;\n" + conf
    (tmp_path / "nginx.conf").write_text(conf)
    settings = f"daemon off; pid {tmp_path / 'nginx.pid'};"
    command = [nginx, "-e", str(tmp_path / "error.log"), "-p", str(tmp_path),
               "-c", str(tmp_path / "nginx.conf"), "-g", settings]  # fmt: skip
    with serving(gateway):
        cache = subprocess.Popen(command, stderr=subprocess.PIPE)
        try:
            wait_for_port(port, cache)
            url = f"http://127.0.0.1:{port}/v1/videos/clip/captions/en.vtt"
            cached_at = time.monotonic()
            first = httpx.get(url)
            assert first.status_code == 200 and "first words" in first.text
            assert first.headers["cache-control"] == "public, max-age=2"
            assert httpx.get(url).headers["x-cache-status"] == "HIT"
            etag = httpx.get(f"{gateway.url}/v1/videos/clip/captions/en").json()["etag"]
            edit = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nedited words\n"
            api = f"http://127.0.0.1:{port}/v1/videos/clip/captions/en"
            saved = httpx.put(api, content=edit, headers={"If-Match": f'"{etag}"'}, timeout=30)
            assert saved.status_code == 200, saved.text
            stale = httpx.get(url)
            if time.monotonic() - cached_at < 1.5:  # well inside the max-age: still the cache's
                assert stale.headers["x-cache-status"] == "HIT" and "first words" in stale.text
            while "edited words" not in (fresh := httpx.get(url)).text:
                # nginx counts the max-age in whole seconds, so up to one more second
                assert time.monotonic() - cached_at < 2 + 1.5, fresh.headers.get("x-cache-status")
                time.sleep(0.1)
            assert fresh.headers["x-cache-status"] in ("EXPIRED", "MISS", "REVALIDATED")
            # a private video through the same cache: never stored, never served from it
            secret = f"http://127.0.0.1:{port}/v1/videos/secret/captions/en.vtt"
            token, _ = issue(TokenKeys((signing_key,)), "secret", 60)
            for _ in range(3):
                assert httpx.get(secret).status_code == 404
                answer = httpx.get(secret, params={"token": token})
                assert answer.status_code == 200 and "private words" in answer.text
                assert answer.headers["cache-control"].startswith("private")
                assert answer.headers["x-cache-status"] == "BYPASS"
        finally:
            cache.terminate()
            cache.wait(10)
