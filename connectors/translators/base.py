"""The contract every text translator keeps, and what is shared by all of them (see the
package's docstring)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

from schemas.ids import canonical_language


class TranslatorError(Exception):
    """A translator that cannot be loaded or cannot translate; `code` says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code  # "model_unavailable" | "unsupported_pair" | "translation_failed"
        self.message = message


class TextTranslator(Protocol):
    """A loaded translator: whole sentences in, the same number of translations out."""

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]: ...


class TranslatorSpec(Protocol):
    """What names a translator and its languages, before anything is loaded (picklable)."""

    @property
    def label(self) -> str:
        """How tracks and `/v1/info` name it ("firefox", "ctranslate2:facebook/m2m100_418M")."""
        ...

    def makes(self, source: str, target: str) -> bool:
        """Whether it translates text in `source` into `target` (BCP 47 codes)."""
        ...

    def writes(self, target: str) -> bool:
        """Whether it translates into `target` from some language."""
        ...

    def targets(self) -> frozenset[str]:
        """Every language it translates into, as the codes `/v1/info` lists."""
        ...

    def load(self) -> TextTranslator: ...


def same_language(spoken: str, model: str) -> bool:
    """Whether a text in `spoken` can be given to a model that reads `model`: the same language,
    and the same region when both name one ("pt" and "pt-BR" read alike; "pt-PT" and "pt-BR"
    do not)."""
    a, b = spoken.split("-"), model.split("-")
    if a[0].lower() != b[0].lower():
        return False
    return len(a) == 1 or len(b) == 1 or a[1:] == b[1:]


def covers(target: str, made: str) -> bool:
    """Whether a model writing `made` ("pt-BR") makes the asked `target` ("pt-BR" or "pt")."""
    return target == made or (target.split("-")[0] == made.split("-")[0] and "-" not in target)


def language_code(text: str) -> str:
    """A target as given by a user, in canonical form ("pt-br" -> "pt-BR"); ValueError if it is
    no language code."""
    code = canonical_language(text)
    if code is None:
        raise ValueError(f"{text!r} is not a language code (BCP 47, such as fr, pt-BR, zh-Hans)")
    return code


class TranslatorPool:
    """The translators of one worker, each loaded on first use and kept (thread-safe): what a
    DoFn's `setup` or the gateway holds."""

    def __init__(self, specs: Sequence[TranslatorSpec]) -> None:
        self.specs = tuple(specs)
        self._loaded: dict[str, TextTranslator] = {}
        self._failed: dict[str, TranslatorError] = {}
        self._lock = threading.Lock()

    def get(self, spec: TranslatorSpec) -> TextTranslator:
        """The loaded translator of `spec`; TranslatorError("model_unavailable") when it cannot
        be loaded (remembered: a missing model is not looked for again for every video)."""
        with self._lock:
            if spec.label in self._loaded:
                return self._loaded[spec.label]
            if spec.label in self._failed:
                raise self._failed[spec.label]
            try:
                loaded = spec.load()
            except TranslatorError as exc:
                self._failed[spec.label] = exc
                raise
            except Exception as exc:  # any loader's failure is this translator's, not the job's
                error = TranslatorError("model_unavailable", f"{spec.label}: {exc}")
                self._failed[spec.label] = error
                raise error from exc
            self._loaded[spec.label] = loaded
            return loaded
