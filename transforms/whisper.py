"""The adapter: every faster-whisper and CTranslate2 detail the project relies on, in one file.

What it gives the rest of the project:

- `load_whisper(settings)`: the process-wide model, loaded once and kept across pipeline runs
  (so the stream service's micro-batches never pay the load again), with `inference_layout`
  (workers and threads) and `compute_type` (int8 on a CPU) chosen for the machine;
- `transcribe_chunks(model, chunks, settings)`: one batch of chunks of any videos, languages
  and tasks: encoded once, each chunk's language detected or given, decoded with its own
  prompt (vocabulary), every word timed by cross-attention alignment;
- `SileroVad`: the Silero VAD model shipped inside faster-whisper, as a streaming `Vad`;
- `LANGUAGE_CODES`: the languages Whisper knows.

It reaches into faster-whisper internals (`get_prompt`, `find_alignment`, `merge_punctuations`,
`Tokenizer.language_code`, `_LANGUAGE_CODES`, the Silero session's inputs and state, ...);
`tests/unit/test_whisper_adapter.py` pins each, so an upgrade that changes one fails there,
loudly, not quietly in the captions. No Beam here. On a CPU several single-threaded workers
decode small batches at once: on two cores a quarter faster than one two-threaded worker.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import _LANGUAGE_CODES, Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens, merge_punctuations
from faster_whisper.vad import get_vad_model

from captions.scripts import is_unspaced
from schemas.transcript import Segment, Word
from transforms.chunks import WINDOW, ChunkAudio
from transforms.domain import Chunk, ChunkTranscript
from transforms.settings import WhisperSettings
from transforms.transcript import sentence_segments

log = logging.getLogger(__name__)

# The language codes Whisper knows ("en", "de", "yue", ...).
LANGUAGE_CODES: Final = frozenset(_LANGUAGE_CODES)

# faster-whisper's defaults: punctuation glued to the word before or after it.
PREPEND_PUNCTUATIONS = "\"'\u201c\u00bf([{-"
APPEND_PUNCTUATIONS = "\"'.\u3002,\uff0c!\uff01?\uff1f:\uff1a\u201d)]}\u3001"

_MODELS: dict[WhisperSettings, WhisperModel] = {}
_MODELS_LOCK = threading.Lock()
_POOLS: dict[int, ThreadPoolExecutor] = {}
MAX_AUTO_WORKERS = 4
GPU_BATCH = 8
CPU_BATCH = 2


def uses_gpu(device: str) -> bool:
    """Whether CTranslate2 runs on a GPU for this --device."""
    return device == "cuda" or (device == "auto" and ctranslate2.get_cuda_device_count() > 0)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def inference_layout(settings: WhisperSettings) -> tuple[int, int]:
    """(inference workers, CTranslate2 threads per worker) for these settings on this machine.

    Zero means "choose": on a GPU one worker; on a CPU one single-threaded worker per core, up
    to four workers, the cores shared out between them.
    """
    if uses_gpu(settings.device):
        return max(1, settings.inference_workers), settings.cpu_threads
    cores = usable_cores()
    workers = settings.inference_workers or max(
        1, min(MAX_AUTO_WORKERS, cores // max(1, settings.cpu_threads))
    )
    threads = settings.cpu_threads or max(1, cores // workers)
    return workers, threads


def batch_size(settings: WhisperSettings) -> int:
    """Chunks per model call: as set, else 8 on a GPU and 2 per worker on a CPU."""
    return settings.batch_size or (GPU_BATCH if uses_gpu(settings.device) else CPU_BATCH)


def compute_type(settings: WhisperSettings) -> str:
    """CTranslate2's compute type: as set, else int8 on a CPU (what faster-whisper users pick
    there: the float16 weights would otherwise be widened to float32, slower, with a warning)
    and the model's own type on a GPU."""
    if settings.compute_type == "default" and not uses_gpu(settings.device):
        return "int8"
    return settings.compute_type


def download_model(name: str) -> str:
    """The local folder of a faster-whisper model name ("small", "large-v3", ...), downloaded
    from the Hugging Face hub on first use; `ValueError` for a name faster-whisper does not
    know, another exception when the hub cannot be reached."""
    from faster_whisper.utils import download_model as download

    return str(download(name))


def cached_models() -> list[tuple[str, str]]:
    """(name, folder) of each faster-whisper model name already in the Hugging Face cache."""
    from faster_whisper.utils import _MODELS
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        repos = scan_cache_dir().repos
    except CacheNotFound:
        return []
    names = {repo: name for name, repo in _MODELS.items()}
    found = []
    for repo in repos:
        if repo.repo_id in names and repo.revisions:
            newest = max(repo.revisions, key=lambda revision: revision.last_modified)
            found.append((names[repo.repo_id], str(newest.snapshot_path)))
    return sorted(found)


def load_whisper(settings: WhisperSettings) -> WhisperModel:
    """The process-wide model for these settings, loaded on first use."""
    workers, threads = inference_layout(settings)
    key = WhisperSettings(
        settings.model,
        settings.device,
        settings.compute_type,
        cpu_threads=threads,
        inference_workers=workers,
        download_root=settings.download_root,
    )
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = WhisperModel(
                settings.model,
                device=settings.device,
                compute_type=compute_type(settings),
                cpu_threads=threads,
                num_workers=workers,
                download_root=settings.download_root,
            )
        return _MODELS[key]


def worker_pool(workers: int) -> ThreadPoolExecutor:
    """Process-wide threads that hand batches to CTranslate2's workers (which drop the GIL)."""
    with _MODELS_LOCK:
        if workers not in _POOLS:
            _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="whisper")
        return _POOLS[workers]


def transcribe_chunks(
    model: WhisperModel, batch: list[Chunk], settings: WhisperSettings
) -> list[ChunkTranscript]:
    """Transcribe one batch: encode once, pick each chunk's language, decode every word,
    time the words; one `ChunkTranscript` per chunk, in order.

    Decoding runs without timestamp tokens, as faster-whisper's batched pipeline does: a chunk
    is at most one window of speech cut at pauses, so the model writes all of it in one pass
    and word times come from cross-attention alignment. (With timestamp tokens the model stops
    at a timestamp before the end of the window and expects to be run again from there;
    decoding on from there measured slower and no more accurate on the long-form talk.)
    """
    if not batch:
        return []
    features = _features(model, [c.audio.audio for c in batch])
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
    prompts = [
        vocabulary_prompt(model, tokenizers[k], c.hotwords, c.initial_prompt)
        for c, k in zip(batch, keys, strict=True)
    ]
    suppress = list(get_suppressed_tokens(next(iter(tokenizers.values())), [-1]) or [])
    results = _generate(model, encoder_output, features, prompts, suppress, settings)
    tokens = [r.sequences_ids[0] for r in results]

    words_by_item: dict[int, list[dict[str, Any]]] = {}
    for key, tokenizer in tokenizers.items():
        items = [i for i, k in enumerate(keys) if k == key]
        group_output = _select(model, encoder_output, features, items, len(batch))
        text_tokens = [[t for t in tokens[i] if t < tokenizer.eot] for i in items]
        frames = [_frames(model, batch[i].audio.duration_s) for i in items]
        splitter = _word_splitter(tokenizer, key[1])
        alignments = model.find_alignment(splitter, text_tokens, group_output, frames)
        for i, alignment in zip(items, alignments, strict=True):
            merge_punctuations(alignment, PREPEND_PUNCTUATIONS, APPEND_PUNCTUATIONS)
            words_by_item[i] = alignment

    out = []
    for i, (chunk, result) in enumerate(zip(batch, results, strict=True)):
        tokenizer = tokenizers[keys[i]]
        seq_len = len(tokens[i])
        avg_logprob = result.scores[0] * (seq_len**1.0) / (seq_len + 1)
        text = tokenizer.decode([t for t in tokens[i] if t < tokenizer.eot])
        segments = _segments(words_by_item.get(i, []), text, chunk.audio)
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


# Room for the vocabulary before the decoded text: Whisper's own limit for previous text
# (half of its 448 positions), so a long prompt never leaves a window too little to say.
PROMPT_TOKENS = 448 // 2 - 1


def vocabulary_prompt(
    model: WhisperModel, tokenizer: Tokenizer, hotwords: str | None, initial_prompt: str | None
) -> list[int]:
    """The decoder prompt of one chunk: its vocabulary as previous text, then the task.

    Hotwords go in as a glossary ("Glossary: ComfyUI."), which heard "ComfyUI" in
    `hotwords.mp3` where faster-whisper's bare form ("ComfyUI") gave "Comfy UI" when decoding
    without timestamps; the initial prompt goes in as written. Both together keep to
    PROMPT_TOKENS: the glossary first, then the end of the prompt.
    """
    glossary = tokenizer.encode(f" Glossary: {hotwords.strip()}.") if hotwords else []
    written = tokenizer.encode(" " + initial_prompt.strip()) if initial_prompt else []
    glossary = glossary[:PROMPT_TOKENS]
    room = PROMPT_TOKENS - len(glossary)
    previous = [*glossary, *(written[-room:] if room > 0 and written else [])]
    return model.get_prompt(tokenizer, previous, without_timestamps=True)


def _generate(
    model: WhisperModel,
    encoder_output: ctranslate2.StorageView,
    features: np.ndarray,
    prompts: list[list[int]],
    suppress_tokens: list[int],
    settings: WhisperSettings,
) -> list[Any]:
    """Beam search for every chunk; one call per prompt length, since CTranslate2 needs the
    start-of-transcript token at the same position across a batch (vocabularies differ)."""
    groups: dict[int, list[int]] = defaultdict(list)
    for i, prompt in enumerate(prompts):
        groups[len(prompt)].append(i)
    results: list[Any] = [None] * len(prompts)
    for items in groups.values():
        group_prompts = [prompts[i] for i in items]
        max_length = model.max_length
        if settings.max_new_tokens is not None:
            max_length = min(max_length, len(group_prompts[0]) + settings.max_new_tokens)
        generated = model.model.generate(
            _select(model, encoder_output, features, items, len(prompts)),
            group_prompts,
            beam_size=settings.beam_size,
            max_length=max_length,
            suppress_blank=True,
            suppress_tokens=suppress_tokens,
            return_scores=True,
            return_no_speech_prob=True,
            sampling_temperature=0.0,
        )
        for i, result in zip(items, generated, strict=True):
            results[i] = result
    return results


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


def _features(model: WhisperModel, samples: list[np.ndarray]) -> np.ndarray:
    """The log-Mel features of 16 kHz int16 windows, each padded or trimmed to 30 s."""
    return np.stack(
        [
            pad_or_trim(model.feature_extractor(audio.astype(np.float32) / 32768.0)[..., :-1])
            for audio in samples
        ]
    )


def _frames(model: WhisperModel, seconds: float) -> int:
    """The feature frames alignment looks at for `seconds` of audio (whole seconds)."""
    return int(math.ceil(seconds) * model.frames_per_second)


def _word_splitter(tokenizer: Tokenizer, task: str) -> Tokenizer:
    """The tokenizer whose word split fits the text: faster-whisper splits by the *source*
    language, so an English translation of Japanese speech would be cut into tokens."""
    if task != "translate" or tokenizer.language_code == "en":
        return tokenizer
    english = copy.copy(tokenizer)
    english.language_code = "en"
    return english


def _segments(alignment: list[dict[str, Any]], text: str, audio: ChunkAudio) -> list[Segment]:
    """A decoded chunk as segments, one per sentence, with its timed words.

    Each word keeps the spacing the model gave it. Text the alignment could not time (it had no
    word tokens) still becomes one segment over the whole chunk, so nothing said is dropped.
    """
    words: list[Word] = []
    space_pending = False
    for timing in alignment:
        raw = str(timing["word"])
        if not raw.strip():  # a bare space token: it spaces the word after it
            space_pending = space_pending or bool(raw)
            continue
        spaced = raw[:1].isspace() or space_pending or not words
        words.append(_absolute_word(raw.strip(), spaced, timing, audio))
        space_pending = False
    if not words:
        text = text.strip()
        if not text:
            return []
        start, end = audio.to_absolute(0.0), audio.to_absolute(audio.duration_s)
        return [Segment(start, end, text, ())]
    return sentence_segments(words)


def _absolute_word(text: str, spaced: bool, timing: dict[str, Any], audio: ChunkAudio) -> Word:
    """Chunk-relative word times -> video times; both ends inside the span the word starts in."""
    start_rel = min(float(timing["start"]), audio.duration_s)
    span = audio.span_index(start_rel)
    start = audio.to_absolute(start_rel, span)
    end = audio.to_absolute(max(float(timing["end"]), start_rel), span)
    return Word(text, start, max(start, end), float(timing["probability"]), space_before=spaced)


# Silero's view of one window: the last CONTEXT samples of the window before it come first.
SILERO_CONTEXT: Final = 64
SILERO_STATE: Final = (1, 1, 128)  # the shape of its recurrent state h and c


class SileroVad:
    """Silero VAD probabilities for one stream, equal to one call over the whole audio.

    A `transforms.chunks.Vad`: windows (n, 512) of float32 in, n probabilities out. The session
    is faster-whisper's (loaded once per process); the state and context are this stream's.
    """

    def __init__(self) -> None:
        self._session = get_vad_model().session
        self._h = np.zeros(SILERO_STATE, dtype=np.float32)
        self._c = np.zeros(SILERO_STATE, dtype=np.float32)
        self._context = np.zeros(SILERO_CONTEXT, dtype=np.float32)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        if len(windows) == 0:
            return np.zeros(0, dtype=np.float32)
        if windows.shape[1] != WINDOW:
            raise ValueError(f"Silero takes windows of {WINDOW} samples, not {windows.shape[1]}")
        contexts = np.concatenate([self._context[None, :], windows[:-1, -SILERO_CONTEXT:]])
        batch = np.concatenate([contexts, windows], axis=1)
        out, self._h, self._c = self._session.run(
            None, {"input": batch, "h": self._h, "c": self._c}
        )
        self._context = windows[-1, -SILERO_CONTEXT:].copy()
        return np.asarray(out).reshape(-1)


def force_align(
    model: WhisperModel,
    windows: list[tuple[np.ndarray, list[tuple[str, bool]]]],
    language: str,
) -> list[list[tuple[float, float, float]]]:
    """Written words forced onto their audio: for each window (16 kHz int16 samples, at most
    30 s; its words as (text, space before)), each word's (start, end, probability) in seconds
    from the window's start.

    The same cross-attention alignment that times the words the model writes
    (`WhisperModel.find_alignment`), given the written words' tokens instead of decoded ones:
    each word is tokenized alone, with its space, so its tokens are its own.
    """
    if not windows:
        return []
    multilingual = model.model.is_multilingual
    said = language if multilingual else "en"
    tokenizer = Tokenizer(model.hf_tokenizer, multilingual, task="transcribe", language=said)
    spaced_start = not is_unspaced(language)  # Whisper's first word then has its space too
    room = 448 - len(tokenizer.sot_sequence) - 1
    tokens: list[list[int]] = []
    lengths: list[list[int]] = []
    for k, (_, words) in enumerate(windows):
        pieces = [
            tokenizer.encode((" " if spaced or (n == 0 and spaced_start) else "") + text)
            for n, (text, spaced) in enumerate(words)
        ]
        if sum(map(len, pieces)) > room:
            raise ValueError(f"window {k}: its words take more than {room} tokens")
        tokens.append([t for piece in pieces for t in piece])
        lengths.append([len(piece) for piece in pieces])
    features = _features(model, [audio for audio, _ in windows])
    rate = model.feature_extractor.sampling_rate
    frames = [_frames(model, len(audio) / rate) for audio, _ in windows]
    encoder_output = model.encode(features)
    results = model.model.align(
        encoder_output, tokenizer.sot_sequence, tokens, frames, median_filter_width=7
    )
    out = []
    for result, counts in zip(results, lengths, strict=True):
        pairs = result.alignments
        text_indices = np.array([pair[0] for pair in pairs])
        time_indices = np.array([pair[1] for pair in pairs])
        jumps = np.pad(np.diff(text_indices), (1, 0), constant_values=1).astype(bool)
        jump_times = time_indices[jumps] / model.tokens_per_second
        bounds = np.pad(np.cumsum(counts), (1, 0))
        probs = np.asarray(result.text_token_probs, dtype=np.float64)
        timed = []
        for n in range(len(counts)):
            a, b = int(bounds[n]), int(bounds[n + 1])
            start = float(jump_times[min(a, len(jump_times) - 1)])
            end = float(jump_times[min(b, len(jump_times) - 1)])
            prob = float(probs[a:b].mean()) if b > a and len(probs) >= b else 0.0
            timed.append((start, max(start, end), prob))
        out.append(timed)
    return out
