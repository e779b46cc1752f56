"""The first step: answer an upload from its existing manifest, or decode it into speech chunks.

`ReuseExisting` passes an upload on unless a manifest for the same source, pipeline version,
model and vocabulary exists (replays, resumed backfills); `DecodeAndChunk` probes the media,
decodes it to 16 kHz PCM as a stream and cuts it at pauses into speech chunks
(`transforms.chunks.speech_chunks`), one element per chunk and task, then a `VideoAudio`
summary that tells the assembler how many results to wait for. Every per-video problem becomes
a value with an error code, never an exception.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from connectors import media
from connectors.storage import open_store
from connectors.storage.layout import manifest_key
from connectors.storage.sources import local_source
from connectors.translators.routes import refuse_reason
from library.catalog import buried
from schemas.errors import ErrorCode, Failure, failure_from_exception
from schemas.events import UploadRequest
from schemas.manifest import Manifest
from transforms import progress
from transforms.chunks import speech_chunks
from transforms.domain import (
    Chunk,
    VideoAudio,
    is_reusable,
    job_key,
    result_from_manifest,
    targets_of,
    tasks_for,
    vocabulary_for,
)
from transforms.settings import CaptionOptions
from transforms.whisper import SileroVad
from transforms.write import deleted_result

log = logging.getLogger(__name__)

SUMMARY = "summary"  # DecodeAndChunk's tagged output: (job, VideoAudio)
REUSED = "reused"  # ReuseExisting's tagged output: CaptionResult


class ReuseExisting(beam.DoFn):
    """Answer an upload from its existing ready manifest (tagged `reused`), else pass it on."""

    def __init__(self, options: CaptionOptions) -> None:
        self.options = options
        self.reused = Metrics.counter("autocaption", "videos_reused")

    def setup(self) -> None:
        self.store = open_store(self.options.storage_url)

    def process(self, request: UploadRequest) -> Iterator[Any]:
        if self.options.keeps_revisions and buried(
            self.store, request.video_id, request.occurred_at
        ):  # deleted after this event: nothing to caption, nothing to write
            progress.report("skipped", request.video_id)
            yield beam.pvalue.TaggedOutput(REUSED, deleted_result(request))
            return
        manifest = self._manifest(request) if self.options.reuse_existing else None
        if manifest is not None and is_reusable(manifest, request, self.options):
            self.reused.inc()
            progress.report("skipped", request.video_id)
            uri = self.store.uri(manifest_key(request.video_id, self.options.captions_root))
            yield beam.pvalue.TaggedOutput(REUSED, result_from_manifest(manifest, uri, request))
        else:
            yield request

    def _manifest(self, request: UploadRequest) -> Manifest | None:
        key = manifest_key(request.video_id, self.options.captions_root)
        try:
            return Manifest.from_json(self.store.get_bytes(key))
        except FileNotFoundError:
            return None
        except ValueError:
            log.warning("unreadable manifest %s: captioning again", key)
            return None


class DecodeAndChunk(beam.DoFn):
    """Probe, stream-decode and cut one video into speech chunks (main output), then emit its
    `VideoAudio` summary (tagged) so the assembler knows how many results to expect."""

    def __init__(self, options: CaptionOptions) -> None:
        self.options = options
        self.chunk_counter = Metrics.counter("autocaption", "speech_chunks")
        self.audio_seconds = Metrics.counter("autocaption", "audio_seconds")

    def process(self, request: UploadRequest) -> Iterator[Any]:
        started = time.time()
        job = job_key(request)
        tasks = tasks_for(request, self.options)
        language = request.language or self.options.default_language
        hotwords, prompt = vocabulary_for(request, self.options)
        count = 0
        refused = refuse_reason(targets_of(request, self.options), self.options.translators)
        if refused:  # refused up front, as a malformed event is
            message = f"translate_to: {refused}"
            failure = Failure(request.video_id, ErrorCode.INVALID_EVENT, message, request.source)
            yield beam.pvalue.TaggedOutput(
                SUMMARY, (job, VideoAudio(request, 0.0, 0, tasks, failure, started))
            )
            return
        try:
            roots = self.options.file_roots or None  # None: local paths of the CLI's own inputs
            with local_source(
                request.source, file_root=roots, max_bytes=self.options.max_source_bytes
            ) as path:
                info = media.probe(path, max_duration_s=self.options.max_duration_s)
                log.info("captioning %s: %.1f s of media", request.video_id, info.duration_s)
                progress.report("decoding", request.video_id, duration_s=info.duration_s)
                samples = 0

                def counted() -> Iterator[Any]:
                    nonlocal samples
                    limit = self.options.max_duration_s
                    for block in media.decode_pcm(path, info, max_duration_s=limit):
                        samples += len(block)
                        yield block

                chunks = speech_chunks(counted(), SileroVad(), self.options.chunking)
                for audio in chunks:
                    for task in tasks:
                        yield Chunk(job, count, task, language, audio, hotwords, prompt)
                    count += 1
                    self.chunk_counter.inc()
                    progress.report("chunk", request.video_id, index=count)
            duration = samples / media.SAMPLE_RATE
            self.audio_seconds.inc(int(duration))
            summary = VideoAudio(request, duration, count, tasks, started=started)
        except Exception as exc:  # every per-video problem becomes a value
            failure = failure_from_exception(exc, request.video_id, request.source)
            summary = VideoAudio(request, 0.0, count, tasks, failure, started)
        yield beam.pvalue.TaggedOutput(SUMMARY, (job, summary))
