"""Batched Whisper inference for Beam's `RunInference`, across videos.

One batch mixes chunks of many videos, each with its own language (given or detected) and task.
The encoder runs once per batch; decoding takes one prompt per chunk; word timing (cross-attention
alignment) runs per (language, task) group because CTranslate2 aligns one start sequence at a
time. The model is loaded once per worker process and kept across pipeline runs, so the stream
service's micro-batches never pay the load again.
"""

from __future__ import annotations

import math
import os
import resource
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ctranslate2
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.ml.inference import base as inference_base
from apache_beam.ml.inference.base import ModelHandler
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens, merge_punctuations

from schemas.transcript import Segment, Word
from transforms.chunks import ChunkAudio

if inference_base.resource is None:
    # Beam 2.77 drops `resource` when torch is missing and then warns on every batch.
    inference_base.resource = resource

# faster-whisper's defaults: punctuation glued to the word before or after it.

PREPEND_PUNCTUATIONS = "\"'“¿([{-"
APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"  # noqa: RUF001 (Whisper's CJK punctuation)


@dataclass(frozen=True)
class WhisperSettings:
    """How to load and run the model; every field is a CLI option."""

    model: str = "small"  # a faster-whisper name (downloaded on first use) or a local folder
    device: str = "auto"
    compute_type: str = "default"
    beam_size: int = 5
    batch_size: int = 8
    cpu_threads: int = 0  # 0: CTranslate2 picks
    max_new_tokens: int | None = None
    download_root: str | None = None
    label: str = ""  # how manifests name the model; default: the name, or the folder's name

    @property
    def model_label(self) -> str:
        """The model as named in manifests and events."""
        if self.label:
            return self.label
        return (
            os.path.basename(os.path.normpath(self.model)) if os.sep in self.model else self.model
        )


@dataclass(frozen=True)
class Chunk:
    """One speech chunk of one video, to be decoded with one task."""

    job: str  # the fan-in key of its video (see transforms.caption.job_key)
    index: int
    task: str  # "transcribe" or "translate"
    language: str | None  # None: detect
    audio: ChunkAudio


@dataclass(frozen=True)
class ChunkTranscript:
    """What the model heard in one chunk, with times already absolute in the video."""

    job: str
    index: int
    task: str
    language: str
    language_probability: float
    segments: tuple[Segment, ...]
    speech_s: float
    avg_logprob: float
    no_speech_prob: float


_MODELS: dict[WhisperSettings, WhisperModel] = {}
_MODELS_LOCK = threading.Lock()


def load_whisper(settings: WhisperSettings) -> WhisperModel:
    """The process-wide model for these settings, loaded on first use."""
    key = WhisperSettings(
        settings.model,
        settings.device,
        settings.compute_type,
        cpu_threads=settings.cpu_threads,
        download_root=settings.download_root,
    )
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = WhisperModel(
                settings.model,
                device=settings.device,
                compute_type=settings.compute_type,
                cpu_threads=settings.cpu_threads,
                download_root=settings.download_root,
            )
        return _MODELS[key]


class WhisperModelHandler(ModelHandler[Chunk, ChunkTranscript, WhisperModel]):
    """`RunInference` handler: a batch of `Chunk`s in, one `ChunkTranscript` per chunk out."""

    def __init__(self, settings: WhisperSettings) -> None:
        super().__init__()
        self.settings = settings
        self.batch_sizes = Metrics.distribution("autocaption", "inference_batch_size")

    def load_model(self) -> WhisperModel:
        return load_whisper(self.settings)

    def batch_elements_kwargs(self) -> dict[str, Any]:
        # Full batches: Beam's adaptive sizing would start at 1 and grow slowly, which
        # wastes an accelerator; the last batch of a bundle is flushed whatever its size.
        size = self.settings.batch_size
        return {"min_batch_size": size, "max_batch_size": size}

    def get_metrics_namespace(self) -> str:
        return "autocaption_whisper"

    def run_inference(
        self,
        batch: Sequence[Chunk],
        model: WhisperModel,
        inference_args: dict[str, Any] | None = None,
    ) -> Iterable[ChunkTranscript]:
        self.batch_sizes.update(len(batch))
        return transcribe_batch(model, list(batch), self.settings)


def transcribe_batch(
    model: WhisperModel, batch: list[Chunk], settings: WhisperSettings
) -> list[ChunkTranscript]:
    """Encode once, pick each chunk's language, decode with per-chunk prompts, time words."""
    if not batch:
        return []
    features = np.stack(
        [
            pad_or_trim(
                model.feature_extractor(c.audio.audio.astype(np.float32) / 32768.0)[..., :-1]
            )
            for c in batch
        ]
    )
    encoder_output = model.encode(features)
    languages = _languages(model, batch, encoder_output)
    multilingual = model.model.is_multilingual
    keys = [
        (lang, c.task if multilingual else "transcribe")
        for c, (lang, _) in zip(batch, languages, strict=True)
    ]
    tokenizers = {
        key: Tokenizer(model.hf_tokenizer, multilingual, task=key[1], language=key[0])
        for key in dict.fromkeys(keys)
    }
    prompts = [model.get_prompt(tokenizers[k], []) for k in keys]
    any_tokenizer = next(iter(tokenizers.values()))
    max_length = model.max_length
    if settings.max_new_tokens is not None:
        max_length = min(max_length, max(map(len, prompts)) + settings.max_new_tokens)
    results = model.model.generate(
        encoder_output,
        prompts,
        beam_size=settings.beam_size,
        max_length=max_length,
        suppress_blank=True,
        suppress_tokens=list(get_suppressed_tokens(any_tokenizer, [-1]) or []),
        return_scores=True,
        return_no_speech_prob=True,
        sampling_temperature=0.0,
    )
    tokens = [r.sequences_ids[0] for r in results]

    words_by_item: dict[int, list[dict[str, Any]]] = {}
    for key, tokenizer in tokenizers.items():
        items = [i for i, k in enumerate(keys) if k == key]
        group_output = _select(model, encoder_output, features, items, len(batch))
        text_tokens = [[t for t in tokens[i] if t < tokenizer.eot] for i in items]
        frames = [_num_frames(model, batch[i].audio) for i in items]
        alignments = model.find_alignment(tokenizer, text_tokens, group_output, frames)
        for i, alignment in zip(items, alignments, strict=True):
            merge_punctuations(alignment, PREPEND_PUNCTUATIONS, APPEND_PUNCTUATIONS)
            words_by_item[i] = alignment

    out = []
    for i, (chunk, result) in enumerate(zip(batch, results, strict=True)):
        tokenizer = tokenizers[keys[i]]
        seq_len = len(tokens[i])
        avg_logprob = result.scores[0] * (seq_len**1.0) / (seq_len + 1)
        segments = _segments(model, tokenizer, tokens[i], words_by_item.get(i, []), chunk.audio)
        out.append(
            ChunkTranscript(
                job=chunk.job,
                index=chunk.index,
                task=chunk.task,
                language=languages[i][0],
                language_probability=languages[i][1],
                segments=tuple(segments),
                speech_s=chunk.audio.duration_s,
                avg_logprob=float(avg_logprob),
                no_speech_prob=float(result.no_speech_prob),
            )
        )
    return out


def _languages(
    model: WhisperModel, batch: list[Chunk], encoder_output: ctranslate2.StorageView
) -> list[tuple[str, float]]:
    if not model.model.is_multilingual:
        return [("en", 1.0)] * len(batch)
    detected: list[tuple[str, float]] = []
    if any(c.language is None for c in batch):
        for pairs in model.model.detect_language(encoder_output):
            token, prob = pairs[0]
            detected.append((token[2:-2], float(prob)))
    return [
        (c.language, 1.0) if c.language is not None else detected[i] for i, c in enumerate(batch)
    ]


def _select(
    model: WhisperModel,
    encoder_output: ctranslate2.StorageView,
    features: np.ndarray,
    items: list[int],
    size: int,
) -> ctranslate2.StorageView:
    """The encoder output of some batch items (sliced on CPU, re-encoded elsewhere)."""
    if len(items) == size:
        return encoder_output
    if model.model.device == "cpu":
        return ctranslate2.StorageView.from_array(
            np.ascontiguousarray(np.array(encoder_output)[items])
        )
    return model.encode(features[items])


def _num_frames(model: WhisperModel, audio: ChunkAudio) -> int:
    return int(math.ceil(audio.duration_s) * model.frames_per_second)


def _segments(
    model: WhisperModel,
    tokenizer: Tokenizer,
    tokens: list[int],
    alignment: list[dict[str, Any]],
    audio: ChunkAudio,
) -> list[Segment]:
    """Split a decoded chunk into segments at its timestamp tokens and attach timed words."""
    duration = audio.duration_s
    pieces, _, _ = model._split_segments_by_timestamps(
        tokenizer=tokenizer,
        tokens=tokens,
        time_offset=0.0,
        segment_size=int(math.ceil(duration) * model.frames_per_second),
        segment_duration=duration,
        seek=0,
    )
    next_word = 0
    segments = []
    for piece in pieces:
        text_tokens = [t for t in piece["tokens"] if t < tokenizer.eot]
        if not text_tokens:
            continue
        words: list[Word] = []
        used = 0
        while next_word < len(alignment) and used < len(text_tokens):
            timing = alignment[next_word]
            next_word += 1
            used += len(timing["tokens"])
            text = timing["word"].strip()
            if text:
                words.append(_absolute_word(text, timing, audio))
        text = tokenizer.decode(text_tokens).strip()
        if not words and not text:
            continue
        start = words[0].start if words else audio.to_absolute(piece["start"])
        end = words[-1].end if words else audio.to_absolute(min(piece["end"], duration))
        segments.append(Segment(start, max(start, end), text, tuple(words)))
    return segments


def _absolute_word(text: str, timing: dict[str, Any], audio: ChunkAudio) -> Word:
    """Chunk-relative word times -> video times; both ends inside the span the word starts in."""
    start_rel = min(float(timing["start"]), audio.duration_s)
    span = audio.span_index(start_rel)
    start = audio.to_absolute(start_rel, span)
    end = audio.to_absolute(max(float(timing["end"]), start_rel), span)
    return Word(text, start, max(start, end), float(timing["probability"]))
