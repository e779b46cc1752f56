"""`WriteTracks`: the last step: cues, tracks and `transcript.json`, then the manifest.

For each transcript of a video, words are laid out as cues under the rules of its language
(`transforms.cues`, `transforms.languages`) and written in every requested format
(`transforms.tracks`); the manifest goes last, so its presence means every track it names is
complete. Keys are deterministic: a replay overwrites, never duplicates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import apache_beam as beam
from apache_beam.metrics import Metrics

from connectors.storage import open_store
from connectors.storage.layout import caption_key, content_type_for, manifest_key
from connectors.storage.store import ObjectStore
from schemas.errors import failure_from_exception
from schemas.events import TrackRef
from schemas.manifest import Manifest
from transforms import progress
from transforms.cues import layout_cues
from transforms.domain import CaptionResult, VideoFailed, VideoTranscripts, vocabulary_for
from transforms.languages import rules_for_language
from transforms.settings import CaptionOptions
from transforms.tracks import TRACK_WRITERS

log = logging.getLogger(__name__)
_WRITERS = ThreadPoolExecutor(8, thread_name_prefix="write-tracks")
CUE_FORMATS: tuple[Literal["vtt", "srt"], ...] = ("vtt", "srt")  # one track per transcript


class WriteTracks(beam.DoFn):
    """VideoTranscripts | VideoFailed in, CaptionResult out (after its manifest is written)."""

    def __init__(self, options: CaptionOptions) -> None:
        self.options = options
        self.ready = Metrics.counter("autocaption", "videos_ready")
        self.failed = Metrics.counter("autocaption", "videos_failed")

    def setup(self) -> None:
        self.store = open_store(self.options.storage_url)

    def process(self, element: VideoTranscripts | VideoFailed) -> Iterator[CaptionResult]:
        try:
            result = write_video(element, self.store, self.options)
        except Exception as exc:
            if isinstance(element, VideoFailed):
                raise  # even a failed manifest cannot be written: storage is down, retry
            request = element.request
            log.exception("writing tracks of %s failed", request.video_id)
            failure = failure_from_exception(exc, request.video_id, request.source)
            result = write_video(VideoFailed(request, failure), self.store, self.options)
        (self.ready if result.status == "ready" else self.failed).inc()
        progress.report(result.status, result.video_id, result=result)
        yield result


def write_video(
    element: VideoTranscripts | VideoFailed, store: ObjectStore, options: CaptionOptions
) -> CaptionResult:
    """Tracks, `transcript.json`, then the manifest (last) written to storage; the
    `CaptionResult` out."""
    model = options.whisper.model_label
    root = options.captions_root
    request = element.request
    if isinstance(element, VideoFailed):
        manifest = Manifest.failed(element.failure, source=request.source, model=model)
        uri = _put(store, manifest_key(request.video_id, root), manifest.to_json())
        return _result(element, manifest, uri)
    tracks: list[TrackRef] = []
    bodies: list[tuple[str, str]] = []  # key, text
    cue_count = 0
    main = element.transcripts[0]
    for transcript in element.transcripts:
        rules = rules_for_language(transcript.language, options.rules)
        cues = layout_cues(transcript.words, rules, transcript.duration_s)
        kind: Literal["captions", "subtitles"] = (
            "captions" if transcript.task == "transcribe" else "subtitles"
        )
        if transcript is main:
            cue_count = len(cues)
        for fmt in (f for f in CUE_FORMATS if f in options.formats):
            key = caption_key(request.video_id, f"{transcript.language}.{fmt}", root)
            bodies.append((key, TRACK_WRITERS[fmt](cues, transcript)))
            tracks.append(TrackRef(transcript.language, kind, fmt, store.uri(key), key))
    if "json" in options.formats:  # the words and their times, of the spoken language
        key = caption_key(request.video_id, "transcript.json", root)
        bodies.append((key, TRACK_WRITERS["json"]((), main)))
        tracks.append(TrackRef(main.language, "captions", "json", store.uri(key), key))
    # The tracks at once (object stores answer in parallel), then the manifest that names them.
    list(_WRITERS.map(lambda item: _put(store, *item), bodies))
    manifest = Manifest.ready(
        request.video_id,
        request.source,
        duration_s=element.duration_s,
        language=main.language,
        tracks=tuple(tracks),
        model=model,
        cues=cue_count,
        vocabulary=vocabulary_for(request, options),
    )
    uri = _put(store, manifest_key(request.video_id, root), manifest.to_json())
    return _result(element, manifest, uri)


def _result(element: VideoTranscripts | VideoFailed, manifest: Manifest, uri: str) -> CaptionResult:
    """The result of a written video, as its manifest tells it."""
    return CaptionResult(
        video_id=manifest.video_id,
        source=element.request.source,
        status=manifest.status,
        manifest_uri=uri,
        language=manifest.language,
        cues=manifest.cues or 0,
        tracks=manifest.tracks,
        processing_s=time.time() - element.started if element.started else 0.0,
        request=element.request,
        model=manifest.model,
        duration_s=manifest.duration_s or 0.0,
        failure=element.failure if isinstance(element, VideoFailed) else None,
    )


def _put(store: ObjectStore, key: str, text: str) -> str:
    return store.put_bytes(key, text.encode("utf-8"), content_type_for(key))
