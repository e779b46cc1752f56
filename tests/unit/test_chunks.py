"""Speech chunks: streamed VAD equals faster-whisper's batch VAD; chunks respect 30 s."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from faster_whisper.vad import VadOptions, get_speech_timestamps

from connectors.media import decode_pcm, probe
from devtools.media import clip_path
from transforms.chunks import SAMPLE_RATE, ChunkAudio, ChunkingOptions, speech_chunks
from transforms.whisper import SileroVad


def _vad_options(options: ChunkingOptions) -> VadOptions:
    """The same settings as faster-whisper's own VAD takes them."""
    return VadOptions(
        threshold=options.threshold,
        min_silence_duration_ms=options.min_silence_ms,
        speech_pad_ms=options.speech_pad_ms,
        min_speech_duration_ms=options.min_speech_ms,
        max_speech_duration_s=options.max_chunk_s,
    )


def _pcm(path: Path) -> np.ndarray:
    return np.concatenate(list(decode_pcm(path, probe(path))))


@pytest.fixture(scope="module")
def talk() -> np.ndarray:
    """A minute of speech with pauses of every length, as one int16 array."""
    a, b = _pcm(clip_path("speech_a")), _pcm(clip_path("speech_b"))

    def silence(seconds: float) -> np.ndarray:
        return np.zeros(int(seconds * SAMPLE_RATE), np.int16)

    return np.concatenate(
        [silence(4), a, silence(3), b, silence(0.5), a, silence(0.2), b, b, a, a, silence(2), b]
    )


def _blocks(audio: np.ndarray, size: int) -> list[np.ndarray]:
    return [audio[i : i + size] for i in range(0, len(audio), size)]


@pytest.mark.parametrize("block", [SAMPLE_RATE * 30, 7777, 512 * 3])
def test_streamed_spans_equal_batch_vad_for_any_block_size(talk: np.ndarray, block: int) -> None:
    options = ChunkingOptions()
    expected = [
        (s["start"], s["end"])
        for s in get_speech_timestamps(talk.astype(np.float32) / 32768, _vad_options(options))
    ]
    chunks = list(speech_chunks(_blocks(talk, block), SileroVad(), options))
    assert [span for c in chunks for span in c.spans] == expected


def test_chunk_audio_is_exactly_its_spans_and_at_most_30_s(talk: np.ndarray) -> None:
    chunks = list(speech_chunks(_blocks(talk, SAMPLE_RATE * 30), SileroVad()))
    assert len(chunks) >= 2
    for chunk in chunks:
        assert chunk.duration_s <= 30.0
        assert np.array_equal(chunk.audio, np.concatenate([talk[s:e] for s, e in chunk.spans]))


def test_cuts_fall_in_pauses_never_inside_speech(talk: np.ndarray) -> None:
    chunks = list(speech_chunks(_blocks(talk, SAMPLE_RATE * 30), SileroVad()))
    spans = [span for c in chunks for span in c.spans]
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end
        if start == end:  # touching spans: the cut is mid-pause, where the audio is quiet
            window = talk[end - 800 : end + 800].astype(np.float64)
            assert np.sqrt(np.mean(window**2)) < 500


def test_silence_gives_no_chunks() -> None:
    silence = np.zeros(SAMPLE_RATE * 20, np.int16)
    assert list(speech_chunks(_blocks(silence, SAMPLE_RATE * 7), SileroVad())) == []


def test_chunk_time_maps_back_through_the_cuts() -> None:
    chunk = ChunkAudio(np.zeros(3 * SAMPLE_RATE, np.int16), ((16000, 32000), (80000, 112000)))
    assert chunk.to_absolute(0.0) == 1.0
    assert chunk.to_absolute(0.5) == 1.5
    assert chunk.to_absolute(1.0) == 5.0  # first sample of the second span
    assert chunk.to_absolute(2.5) == 6.5
    assert chunk.to_absolute(99.0) == 7.0  # clamped to the chunk's end
    # a word that starts in the first span ends inside it, never across the removed pause
    assert chunk.to_absolute(1.4, chunk.span_index(0.9)) == 2.0


def test_memory_of_the_chunker_does_not_grow_with_length() -> None:
    """Hours of speech-like noise: the detector keeps only pending audio (bounded)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    block = (rng.standard_normal(SAMPLE_RATE * 30) * 3000).astype(np.int16)

    def stream(n: int) -> list[np.ndarray]:
        return [block] * n

    tracemalloc.start()
    for _ in speech_chunks(iter(stream(40)), SileroVad()):  # 20 minutes
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 40 * 2**20  # 20 min of int16 would be 38 MB on top of working buffers
