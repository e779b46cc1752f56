"""Translation models converted to CTranslate2 (the int8 runtime faster-whisper already uses).

Four families, each told its target the way it expects:

- `marian`: OPUS-MT, one model per pair (`Helsinki-NLP/opus-mt-en-de`: en -> de); the pair
  comes from the name, or `pair=en-de`. CC-BY-4.0 or Apache-2.0 per model.
- `m2m100`: M2M100 (`facebook/m2m100_418M`), 100 languages; source `__en__`, target prefix
  `__fr__`. MIT.
- `nllb`: NLLB-200 (`facebook/nllb-200-distilled-600M`), 200 languages; source and target tags
  such as `eng_Latn`, `fra_Latn`. **CC-BY-NC-4.0: not for commercial use.**
- `madlad`: MADLAD-400 (`google/madlad400-3b-mt`), target tag `<2fr>` before the source.
  Apache-2.0.

A model is a folder holding CTranslate2's `model.bin` and vocabulary with its tokenizer: a
`tokenizer.json` (Hugging Face tokenizers), or SentencePiece files (`source.spm` and
`target.spm` for Marian, `sentencepiece.bpe.model` for M2M100 and NLLB, `spiece.model` for
MADLAD). A name that is not a folder is fetched from the model hub on first use, as
faster-whisper fetches Whisper (converted copies are published there; or convert one with
`ct2-transformers-converter --model NAME --output_dir DIR --quantization int8 --copy_files
tokenizer.json`, see docs/commands.md).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

from connectors.translators.base import TranslatorError, covers, same_language
from connectors.translators.model_languages import (
    M2M100_LANGUAGES,
    MADLAD_LANGUAGES,
    NLLB_CODES,
    nllb_code,
)

FAMILIES: Final = ("marian", "m2m100", "nllb", "madlad")
_OPTIONS: Final = frozenset({"family", "pair", "device", "compute_type", "beam_size"})
MAX_DECODING_LENGTH: Final = 256


@dataclass(frozen=True)
class CTranslate2Spec:
    model: str  # a hub name ("facebook/m2m100_418M") or a folder
    family: str
    pair: tuple[str, str] | None = None  # Marian: the one pair it makes
    device: str = "cpu"
    compute_type: str = "int8"
    beam_size: int = 4
    download_root: str | None = None

    @classmethod
    def parse(cls, text: str) -> CTranslate2Spec:
        """`MODEL[?family=...&pair=en-de&device=cpu&compute_type=int8&beam_size=4]`."""
        model, _, query = text.partition("?")
        options = dict(parse_qsl(query, keep_blank_values=True))
        unknown = set(options) - _OPTIONS
        if unknown or not model:
            raise ValueError(
                f"ctranslate2:{text}: expected MODEL?{'&'.join(sorted(_OPTIONS))}"
                + (f" (unknown: {', '.join(sorted(unknown))})" if unknown else "")
            )
        family = options.get("family") or family_of(model)
        if family not in FAMILIES:
            raise ValueError(
                f"ctranslate2:{text}: cannot tell the model's family from its name; "
                f"add ?family= one of {', '.join(FAMILIES)}"
            )
        pair = None
        if family == "marian":
            pair = _pair(options.get("pair") or _pair_in_name(model), text)
        try:
            beam_size = int(options.get("beam_size", "4"))
        except ValueError:
            raise ValueError(f"ctranslate2:{text}: beam_size must be a whole number") from None
        return cls(
            model,
            family,
            pair,
            device=options.get("device", "cpu"),
            compute_type=options.get("compute_type", "int8"),
            beam_size=max(1, beam_size),
        )

    @property
    def label(self) -> str:
        """A hub name as it is; a folder by its last name."""
        local = self.model.startswith((".", os.sep)) or os.path.isdir(self.model)
        name = os.path.basename(os.path.normpath(self.model)) if local else self.model
        return f"ctranslate2:{name}"

    def makes(self, source: str, target: str) -> bool:
        if self.pair is not None:
            return same_language(source, self.pair[0]) and covers(target, self.pair[1])
        return self._code(source) is not None and self._code(target) is not None

    def writes(self, target: str) -> bool:
        if self.pair is not None:
            return covers(target, self.pair[1])
        return self._code(target) is not None

    def targets(self) -> frozenset[str]:
        if self.pair is not None:
            return frozenset({self.pair[1]})
        return frozenset(self._languages())

    def _languages(self) -> Sequence[str]:
        if self.family == "nllb":
            return tuple(NLLB_CODES)
        if self.family == "m2m100":
            return M2M100_LANGUAGES
        return MADLAD_LANGUAGES

    def _code(self, language: str) -> str | None:
        """The family's name for a language: `fra_Latn`, `fr`; None when it has none."""
        if self.family == "nllb":
            return nllb_code(language)
        base = language.split("-")[0]
        if self.family == "madlad" and language in MADLAD_LANGUAGES:
            return language
        return base if base in self._languages() else None

    def load(self) -> CTranslate2Translator:
        return CTranslate2Translator(self)


def family_of(model: str) -> str:
    """The family a model's name says ("" when it says none)."""
    name = model.lower()
    for marker, family in (
        ("opus-mt", "marian"),
        ("marian", "marian"),
        ("m2m100", "m2m100"),
        ("nllb", "nllb"),
        ("madlad", "madlad"),
    ):
        if marker in name:
            return family
    return ""


def _pair_in_name(model: str) -> str:
    match = re.search(r"opus-mt-(?:tc-big-)?([a-z]{2,3})-([a-z]{2,3})$", model.rstrip("/"))
    return f"{match.group(1)}-{match.group(2)}" if match else ""


def _pair(text: str, spec: str) -> tuple[str, str]:
    source, _, target = text.partition("-")
    if not source or not target or "-" in target:
        raise ValueError(f"ctranslate2:{spec}: a Marian model needs its pair, as ?pair=en-de")
    return source, target


class CTranslate2Translator:
    def __init__(self, spec: CTranslate2Spec) -> None:
        import ctranslate2

        self.spec = spec
        folder = _model_folder(spec)
        try:
            self.model = ctranslate2.Translator(
                folder, device=spec.device, compute_type=spec.compute_type
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise TranslatorError("model_unavailable", f"{spec.label}: {exc}") from exc
        self.tokenizer = _Tokenizer(folder, spec.family)

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        spec = self.spec
        if not spec.makes(source, target):
            raise TranslatorError(
                "unsupported_pair", f"{spec.label} does not make {source}->{target}"
            )
        if not texts:
            return []
        batch = [self._source_tokens(text, source, target) for text in texts]
        prefix = self._target_prefix(target)
        results = self.model.translate_batch(
            batch,
            target_prefix=[prefix] * len(batch) if prefix else None,
            beam_size=spec.beam_size,
            max_decoding_length=MAX_DECODING_LENGTH,
        )
        out = []
        for text, result in zip(texts, results, strict=True):
            tokens = result.hypotheses[0][len(prefix) :] if text.strip() else []
            out.append(self.tokenizer.decode(tokens))
        return out

    def _source_tokens(self, text: str, source: str, target: str) -> list[str]:
        spec, tokens = self.spec, self.tokenizer.encode(text)
        if spec.family == "m2m100":
            return [f"__{spec._code(source)}__", *tokens, "</s>"]
        if spec.family == "nllb":
            return [spec._code(source) or "", *tokens, "</s>"]
        if spec.family == "madlad":
            return [f"<2{spec._code(target)}>", *tokens, "</s>"]
        return [*tokens, "</s>"]

    def _target_prefix(self, target: str) -> list[str]:
        if self.spec.family == "m2m100":
            return [f"__{self.spec._code(target)}__"]
        if self.spec.family == "nllb":
            return [self.spec._code(target) or ""]
        return []


def _model_folder(spec: CTranslate2Spec) -> str:
    if os.path.isdir(spec.model):
        return spec.model
    if os.path.exists(spec.model) or spec.model.startswith((".", "/")):
        raise TranslatorError("model_unavailable", f"{spec.model}: not a model folder")
    try:
        import huggingface_hub

        return str(huggingface_hub.snapshot_download(spec.model, cache_dir=spec.download_root))
    except Exception as exc:  # offline, unknown name, no access: this translator is missing
        raise TranslatorError(
            "model_unavailable", f"{spec.model}: could not be fetched from the model hub ({exc})"
        ) from exc


class _Tokenizer:
    """Text <-> the model's subword tokens: `tokenizer.json`, else the family's SentencePiece."""

    SPM_FILES: Final = {
        "marian": ("source.spm", "target.spm"),
        "m2m100": ("sentencepiece.bpe.model",) * 2,
        "nllb": ("sentencepiece.bpe.model",) * 2,
        "madlad": ("spiece.model",) * 2,
    }

    def __init__(self, folder: str, family: str) -> None:
        self.hf: Any = None
        self.spm: tuple[Any, Any] | None = None
        path = os.path.join(folder, "tokenizer.json")
        if os.path.exists(path):
            import tokenizers

            self.hf = tokenizers.Tokenizer.from_file(path)
            return
        names = self.SPM_FILES[family]
        paths = [os.path.join(folder, name) for name in names]
        if not all(os.path.exists(p) for p in paths):
            raise TranslatorError(
                "model_unavailable", f"{folder}: no tokenizer.json and no {' or '.join(names)}"
            )
        try:
            import sentencepiece
        except ImportError as exc:
            raise TranslatorError("model_unavailable", f"sentencepiece is needed: {exc}") from exc
        self.spm = (
            sentencepiece.SentencePieceProcessor(model_file=paths[0]),
            sentencepiece.SentencePieceProcessor(model_file=paths[1]),
        )

    def encode(self, text: str) -> list[str]:
        if self.hf is not None:
            return list(self.hf.encode(text, add_special_tokens=False).tokens)
        assert self.spm is not None
        return list(self.spm[0].encode(text, out_type=str))

    def decode(self, tokens: Sequence[str]) -> str:
        tokens = [t for t in tokens if t not in ("</s>", "<s>", "<pad>")]
        if self.hf is not None:
            ids = [self.hf.token_to_id(t) for t in tokens]
            return str(self.hf.decode([i for i in ids if i is not None]))
        assert self.spm is not None
        return str(self.spm[1].decode_pieces(list(tokens)))
