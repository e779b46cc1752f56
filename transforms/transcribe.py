"""`TranscribeChunks`: batched Whisper inference across videos, as a Beam step.

Chunks of any videos, languages and tasks are grouped into batches, each decoded by one of the
model's workers (`transforms.whisper.transcribe_chunks`); the model is loaded once per worker
process. A chunk goes alone when every worker is idle, so a lone upload never waits for a batch
to fill. Batches run in the background while this stage keeps taking chunks, so audio decoding
and speech detection overlap inference; at most one batch waits behind the running ones, which
bounds memory. A batch that fails is retried chunk by chunk, so one bad chunk fails only its own
video. (It replaces Beam's `RunInference`, which runs one batch at a time in the bundle's
thread.)
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue

from transforms.domain import Chunk, ChunkFailed, ChunkTranscript
from transforms.settings import WhisperSettings
from transforms.whisper import batch_size, load_whisper, transcribe_chunks, worker_pool

log = logging.getLogger(__name__)

FAILED = "failed"  # the tagged output of chunks whose inference raised


class TranscribeChunks(beam.DoFn):
    """`Chunk`s in, `(job, ChunkTranscript)` out; `(job, ChunkFailed)` on the FAILED output.
    Every batch is flushed at the end of its bundle."""

    def __init__(self, settings: WhisperSettings) -> None:
        self.settings = settings
        self.batch_sizes = Metrics.distribution("autocaption", "inference_batch_size")
        self.failures = Metrics.counter("autocaption", "inference_failures")

    def setup(self) -> None:
        self.model = load_whisper(self.settings)
        self.workers = self.model.model.num_workers
        self.piece_size = batch_size(self.settings)
        self.pool = worker_pool(self.workers)

    def start_bundle(self) -> None:
        self.waiting: list[WindowedValue] = []
        self.running: deque[tuple[list[WindowedValue], Future[list[ChunkTranscript]]]] = deque()

    def process(
        self,
        chunk: Chunk,
        timestamp: Any = beam.DoFn.TimestampParam,
        window: Any = beam.DoFn.WindowParam,
    ) -> Iterator[Any]:
        self.waiting.append(WindowedValue(chunk, timestamp, (window,)))
        # A full batch goes, and so does a partial one when every worker is idle.
        idle = all(future.done() for _, future in self.running)
        if len(self.waiting) >= self.piece_size or idle:
            self._submit()
        while len(self.running) > self.workers or (self.running and self.running[0][1].done()):
            yield from self._collect(*self.running.popleft())

    def finish_bundle(self) -> Iterator[Any]:
        if self.waiting:
            self._submit()
        while self.running:
            yield from self._collect(*self.running.popleft())

    def _submit(self) -> None:
        piece, self.waiting = self.waiting, []
        self.batch_sizes.update(len(piece))
        chunks = [wv.value for wv in piece]
        future = self.pool.submit(transcribe_chunks, self.model, chunks, self.settings)
        self.running.append((piece, future))

    def _collect(
        self, piece: list[WindowedValue], future: Future[list[ChunkTranscript]]
    ) -> Iterator[Any]:
        try:
            transcripts = future.result()
        except Exception as exc:  # one bad chunk must not fail the other videos of its batch
            if len(piece) > 1:
                for wv in piece:
                    alone = self.pool.submit(
                        transcribe_chunks, self.model, [wv.value], self.settings
                    )
                    yield from self._collect([wv], alone)
                return
            self.failures.inc()
            log.warning(
                "inference failed for chunk %d of %s: %r",
                piece[0].value.index,
                piece[0].value.job,
                exc,
            )
            failed = ChunkFailed(piece[0].value.index, piece[0].value.task, repr(exc))
            yield pvalue.TaggedOutput(FAILED, piece[0].with_value((piece[0].value.job, failed)))
            return
        for wv, transcript in zip(piece, transcripts, strict=True):
            yield wv.with_value((transcript.job, transcript))
