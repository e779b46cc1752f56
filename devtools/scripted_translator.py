"""A tiny CTranslate2 translation model built from numpy, for plumbing and failure paths.

Like the scripted Whisper, every sentence it translates comes out as the same fixed words: the
decoder ignores the source and emits `script[k]` at step k, then the end token. It loads with
`ctranslate2.Translator` like a converted OPUS-MT or M2M100 model, with a `tokenizer.json`
(Hugging Face tokenizers, one word per token), so the CTranslate2 backend is exercised end to
end: folder, tokenizer, source and target tags, batching, decoding. What it says is no
translation; tests of what a translation says use the real models (`connectors.translators.
firefox`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import ctranslate2
import numpy as np

D_MODEL = 64
MAX_POSITIONS = 512  # CTranslate2 wants one for every step it may decode
SPECIALS = ("<unk>", "<s>", "</s>", "<pad>")
LANGUAGE_TOKENS = ("__en__", "__pt__", "__fr__", "__de__")  # M2M100's way of naming a target


def build_scripted_translator(
    folder: str,
    script: Sequence[str],
    *,
    family: str = "m2m100",
    source_words: Sequence[str] = (),
) -> str:
    """Write the model to `folder` (created) and return it. `family`: "m2m100" (a target
    prefix such as `__pt__` before the script) or "marian" (no prefix)."""
    words = list(dict.fromkeys([*script, *source_words]))
    vocabulary = [*SPECIALS, *LANGUAGE_TOKENS, *words]
    index = {token: k for k, token in enumerate(vocabulary)}
    offset = 1 if family == "m2m100" else 0  # the prefix takes the first step
    spec = ctranslate2.specs.TransformerSpec.from_config((1, 1), 2)
    size = len(vocabulary)
    _fill_encoder(spec.encoder, size)
    decoder = spec.decoder
    _fill_layers(decoder.layer, cross_attention=True)
    decoder.embeddings.weight = np.zeros((size, D_MODEL), np.float32)
    # position k is the one-hot vector e_k: after the (empty) layers and the final norm, the
    # state at step k points at column k, and the projection maps column k to script[k]
    positions = np.zeros((MAX_POSITIONS, D_MODEL), np.float32)
    positions[:D_MODEL] = np.eye(D_MODEL, dtype=np.float32)
    decoder.position_encodings.encodings = positions
    decoder.layer_norm.gamma = np.ones(D_MODEL, np.float32)
    decoder.layer_norm.beta = np.zeros(D_MODEL, np.float32)
    projection = np.zeros((size, D_MODEL), np.float32)
    for step, token in enumerate([*script, "</s>"]):
        projection[index[token], step + offset] = 10.0
    decoder.projection.weight = projection
    decoder.projection.bias = np.zeros(size, np.float32)
    spec.register_source_vocabulary(vocabulary)
    spec.register_target_vocabulary(vocabulary)
    spec.validate()
    spec.optimize(quantization="int8")
    os.makedirs(folder, exist_ok=True)
    spec.save(folder)
    _write_tokenizer(folder, vocabulary)
    return folder


def _fill_encoder(encoder: object, size: int) -> None:
    encoder.embeddings[0].weight = np.zeros((size, D_MODEL), np.float32)  # type: ignore[attr-defined]
    encoder.layer_norm.gamma = np.ones(D_MODEL, np.float32)  # type: ignore[attr-defined]
    encoder.layer_norm.beta = np.zeros(D_MODEL, np.float32)  # type: ignore[attr-defined]
    _fill_layers(encoder.layer, cross_attention=False)  # type: ignore[attr-defined]


def _fill_layers(layers: Sequence[object], *, cross_attention: bool) -> None:
    """Every weight zero, every norm the identity: each layer passes its input through."""
    d = D_MODEL
    for layer in layers:
        _norm(layer.self_attention.layer_norm)  # type: ignore[attr-defined]
        _linear(layer.self_attention.linear[0], 3 * d, d)  # type: ignore[attr-defined]
        _linear(layer.self_attention.linear[1], d, d)  # type: ignore[attr-defined]
        if cross_attention:
            _norm(layer.attention.layer_norm)  # type: ignore[attr-defined]
            _linear(layer.attention.linear[0], d, d)  # type: ignore[attr-defined]
            _linear(layer.attention.linear[1], 2 * d, d)  # type: ignore[attr-defined]
            _linear(layer.attention.linear[2], d, d)  # type: ignore[attr-defined]
        _norm(layer.ffn.layer_norm)  # type: ignore[attr-defined]
        _linear(layer.ffn.linear_0, 4 * d, d)  # type: ignore[attr-defined]
        _linear(layer.ffn.linear_1, d, 4 * d)  # type: ignore[attr-defined]


def _norm(norm: object) -> None:
    norm.gamma = np.ones(D_MODEL, np.float32)  # type: ignore[attr-defined]
    norm.beta = np.zeros(D_MODEL, np.float32)  # type: ignore[attr-defined]


def _linear(linear: object, rows: int, columns: int) -> None:
    linear.weight = np.zeros((rows, columns), np.float32)  # type: ignore[attr-defined]
    linear.bias = np.zeros(rows, np.float32)  # type: ignore[attr-defined]


def _write_tokenizer(folder: str, vocabulary: Sequence[str]) -> None:
    """A word-level `tokenizer.json`: one token per word, unknown words as `<unk>`."""
    document: dict[str, object] = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": None,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {
            "type": "WordLevel",
            "vocab": {token: k for k, token in enumerate(vocabulary)},
            "unk_token": "<unk>",
        },
    }
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as out:
        json.dump(document, out)
