"""Speech chunks: VAD over streamed audio, then "cut & merge" into windows of <= 30 s. Pure.

Audio arrives as 16 kHz int16 blocks and is never held whole: the detector keeps only the audio
of speech it has not yet handed out (at most one window) plus a short look-back for padding.
Cuts fall only between VAD speech spans, that is in pauses, so no word is ever split. A chunk
is the concatenation of whole speech spans; `ChunkAudio.to_absolute` maps a time inside the
chunk back to the video through the exact sample positions of the cuts (no float drift).

The speech probabilities come from a `Vad` the caller passes in: Silero VAD, shipped inside
faster-whisper, through `transforms.whisper.SileroVad`. The span rules are faster-whisper's
`get_speech_timestamps`, as a state machine over the stream.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
WINDOW = 512  # Silero's window at 16 kHz
MAX_CHUNK_S = 30.0  # Whisper's receptive field

# A voice activity detector: float32 windows (n, WINDOW) in, n speech probabilities out, called
# on consecutive windows of one stream (it may keep state between calls).
Vad = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ChunkingOptions:
    """VAD and packing settings; defaults suit captioning (short pauses still count as cuts)."""

    threshold: float = 0.5
    min_silence_ms: int = 500
    speech_pad_ms: int = 300
    min_speech_ms: int = 120
    max_chunk_s: float = MAX_CHUNK_S

    @property
    def neg_threshold(self) -> float:
        """Below this probability speech has ended (faster-whisper's default)."""
        return max(self.threshold - 0.15, 0.01)


@dataclass(frozen=True)
class ChunkAudio:
    """Whole speech spans packed into one window: `audio` is their concatenation."""

    audio: np.ndarray  # int16, 16 kHz mono
    spans: tuple[tuple[int, int], ...]  # absolute [start, end) samples, in order

    @property
    def duration_s(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    @functools.cached_property
    def _offsets(self) -> list[int]:
        out, total = [], 0
        for start, end in self.spans:
            out.append(total)
            total += end - start
        return out

    def span_index(self, t: float) -> int:
        """Which span a chunk-relative time falls in."""
        sample = round(min(max(t, 0.0), self.duration_s) * SAMPLE_RATE)
        return max(0, bisect.bisect_right(self._offsets, sample) - 1)

    def to_absolute(self, t: float, span: int | None = None) -> float:
        """A time inside the chunk (s) -> the time in the video (s); clamped into the span."""
        index = self.span_index(t) if span is None else span
        start, end = self.spans[index]
        sample = round(min(max(t, 0.0), self.duration_s) * SAMPLE_RATE)
        absolute = start + sample - self._offsets[index]
        return min(max(absolute, start), end) / SAMPLE_RATE


class SpeechSpans:
    """faster-whisper's `get_speech_timestamps` as an incremental state machine.

    `push(probs)` takes the next window probabilities and returns speech spans whose padded
    bounds are final; `finish(total)` returns the rest. Same results as the batch version.
    """

    def __init__(self, options: ChunkingOptions) -> None:
        self.threshold = options.threshold
        self.neg_threshold = options.neg_threshold
        self.pad = int(SAMPLE_RATE * options.speech_pad_ms / 1000)
        self.min_speech = SAMPLE_RATE * options.min_speech_ms / 1000
        self.max_speech = SAMPLE_RATE * options.max_chunk_s - WINDOW - 2 * self.pad
        self.min_silence = SAMPLE_RATE * options.min_silence_ms / 1000
        self.min_silence_at_max = SAMPLE_RATE * 98 / 1000
        self.index = 0  # next window index
        self.triggered = False
        self.start = 0
        self.temp_end = self.prev_end = self.next_start = 0
        self.held: list[int] | None = None  # a raw span [start, end] awaiting its end padding
        self.next_start_pad = self.pad  # padding owed to the start of the next span

    @property
    def earliest_needed(self) -> int:
        """First sample whose audio may still belong to a span not yet returned."""
        candidates = [self.index * WINDOW - self.pad - WINDOW]
        if self.held is not None:
            candidates.append(self.held[0] - self.pad)
        if self.triggered:
            candidates.append(self.start - self.pad)
        return max(0, min(candidates))

    def push(self, probs: np.ndarray) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for p in probs.tolist():
            self._step(p, out)
            self.index += 1
        if self.held is not None:
            if self.triggered:  # the next span has begun: its start decides the padding
                out.append(self._release(self.start))
            elif self.index * WINDOW - self.held[1] >= 2 * self.pad:
                out.append(self._release(None))
        return out

    def finish(self, total: int) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        if self.triggered and total - self.start > self.min_speech:
            self._emit_raw(self.start, total, out)
        if self.held is not None:
            out.append(self._release(None, total))
        return out

    def _step(self, p: float, out: list[tuple[int, int]]) -> None:
        pos = WINDOW * self.index
        if p >= self.threshold and self.temp_end:
            self.temp_end = 0
            if self.next_start < self.prev_end:
                self.next_start = pos
        if p >= self.threshold and not self.triggered:
            self.triggered = True
            self.start = pos
            return
        if self.triggered and pos - self.start > self.max_speech:
            if self.prev_end:
                self._emit_raw(self.start, self.prev_end, out)
                if self.next_start < self.prev_end:
                    self.triggered = False
                else:
                    self.start = self.next_start
                self.prev_end = self.next_start = self.temp_end = 0
            else:
                self._emit_raw(self.start, pos, out)
                self.prev_end = self.next_start = self.temp_end = 0
                self.triggered = False
                return
        if p < self.neg_threshold and self.triggered:
            if not self.temp_end:
                self.temp_end = pos
            if pos - self.temp_end > self.min_silence_at_max:
                self.prev_end = self.temp_end
            if pos - self.temp_end < self.min_silence:
                return
            if self.temp_end - self.start > self.min_speech:
                self._emit_raw(self.start, self.temp_end, out)
            self.prev_end = self.next_start = self.temp_end = 0
            self.triggered = False

    def _emit_raw(self, start: int, end: int, out: list[tuple[int, int]]) -> None:
        if self.held is not None:
            out.append(self._release(start))
        self.held = [max(0, start - self.next_start_pad), end]

    def _release(self, next_start: int | None, total: int | None = None) -> tuple[int, int]:
        """Pad the held span's end now that the gap to the next span is known."""
        assert self.held is not None
        start, end = self.held
        gap = None if next_start is None else next_start - end
        if gap is not None and gap < 2 * self.pad:
            end += gap // 2
            self.next_start_pad = gap - gap // 2
        else:
            end += self.pad
            self.next_start_pad = self.pad
        if total is not None:
            end = min(end, total)
        self.held = None
        return start, end


def speech_chunks(
    blocks: Iterable[np.ndarray], vad: Vad, options: ChunkingOptions | None = None
) -> Iterator[ChunkAudio]:
    """16 kHz int16 blocks in, speech chunks of at most `max_chunk_s` out, as they complete.

    `vad` must be fresh for this stream (it keeps state from window to window)."""
    options = options or ChunkingOptions()
    spans = SpeechSpans(options)
    max_samples = int(options.max_chunk_s * SAMPLE_RATE)
    buffer = np.zeros(0, dtype=np.int16)  # audio from sample `buffer_start` on
    buffer_start = 0
    pending = np.zeros(0, dtype=np.float32)  # samples not yet a full VAD window
    packed: list[np.ndarray] = []
    packed_spans: list[tuple[int, int]] = []
    total = 0

    def take(span_list: list[tuple[int, int]]) -> Iterator[ChunkAudio]:
        nonlocal packed, packed_spans
        for start, end in span_list:
            end = min(end, buffer_start + len(buffer))
            if end <= start:
                continue
            size = sum(e - s for s, e in packed_spans)
            if packed_spans and size + (end - start) > max_samples:
                yield ChunkAudio(np.concatenate(packed), tuple(packed_spans))
                packed, packed_spans = [], []
            packed.append(buffer[start - buffer_start : end - buffer_start].copy())
            packed_spans.append((start, end))

    for block in blocks:
        block = np.asarray(block, dtype=np.int16)
        total += len(block)
        buffer = np.concatenate([buffer, block])
        pending = np.concatenate([pending, block.astype(np.float32) / 32768.0])
        usable = len(pending) - len(pending) % WINDOW
        probs = vad(pending[:usable].reshape(-1, WINDOW))
        pending = pending[usable:]
        yield from take(spans.push(probs))
        keep_from = spans.earliest_needed
        if keep_from > buffer_start:
            buffer = buffer[keep_from - buffer_start :]
            buffer_start = keep_from

    if len(pending):
        padded = np.pad(pending, (0, WINDOW - len(pending)))
        yield from take(spans.push(vad(padded.reshape(1, WINDOW))))
    yield from take(spans.finish(total))
    if packed_spans:
        yield ChunkAudio(np.concatenate(packed), tuple(packed_spans))
