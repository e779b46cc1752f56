"""`WriteTracks`: the last step: cues, tracks and `transcript.json`, then the manifest.

For each transcript of a video, words are laid out as cues under the rules of its language
(`captions.cues`, `captions.rules`) and written in every requested format of the registry
(`captions.formats`); the manifest goes last, so its presence means every track it names is
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

from captions.cues import Cue, layout_cues
from captions.formats import write_caption_track, write_transcript_json
from captions.rules import rules_for_language
from connectors.storage import open_store
from connectors.storage.layout import caption_key, content_type_for, manifest_key
from connectors.storage.store import ObjectStore
from library.pending import settle_pending
from library.revisions import commit_generated, sync_manifest
from library.track_meta import TrackChange
from library.videos import read_manifest
from schemas.errors import failure_from_exception
from schemas.events import ErrorDetail, TrackRef
from schemas.formats import CAPTION_FORMATS
from schemas.manifest import Manifest
from schemas.transcript import Transcript
from transforms import progress
from transforms.domain import (
    CaptionResult,
    VideoFailed,
    VideoTranscripts,
    requested_languages,
    vocabulary_for,
)
from transforms.settings import CaptionOptions

log = logging.getLogger(__name__)
_WRITERS = ThreadPoolExecutor(8, thread_name_prefix="write-tracks")
LaidOut = tuple[Transcript, list[Cue], Literal["captions", "subtitles"]]


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
    `CaptionResult` out.

    In storage with revisions (`CaptionOptions.keeps_revisions`: the stream service, backfills)
    each track becomes a new revision (`library.revisions.commit_generated`: never over a
    person's), and an upload whose captions were asked for again leaves a ready video as it was
    when it fails. A plain output folder (`caption --out`) just gets the files."""
    if isinstance(element, VideoFailed):
        return _write_failure(element, store, options)
    if options.keeps_revisions:
        return _write_revisions(element, store, options)
    return _write_plain(element, store, options)


def _laid_out(element: VideoTranscripts, options: CaptionOptions) -> list[LaidOut]:
    """Each transcript with its cues, under the caption rules of its language, and its kind."""
    laid_out = []
    for transcript in element.transcripts:
        rules = rules_for_language(transcript.language, options.rules)
        cues = layout_cues(transcript.words, rules, transcript.duration_s)
        kind: Literal["captions", "subtitles"] = (
            "captions" if transcript.task == "transcribe" else "subtitles"
        )
        laid_out.append((transcript, cues, kind))
    return laid_out


def _write_plain(
    element: VideoTranscripts, store: ObjectStore, options: CaptionOptions
) -> CaptionResult:
    root = options.captions_root
    request = element.request
    tracks: list[TrackRef] = []
    bodies: list[tuple[str, str]] = []  # key, text
    laid_out = _laid_out(element, options)
    for transcript, cues, kind in laid_out:
        for fmt in _caption_formats(options):
            key = caption_key(request.video_id, f"{transcript.language}.{fmt}", root)
            bodies.append((key, write_caption_track(fmt, cues, transcript.language)))
            tracks.append(TrackRef(transcript.language, kind, fmt, store.uri(key), key))
    tracks += _write_transcript_json(element, store, options)
    # The tracks at once (object stores answer in parallel), then the manifest that names them.
    list(_WRITERS.map(lambda item: _put(store, *item), bodies))
    manifest = _ready_manifest(element, options, tracks, cues=len(laid_out[0][1]))
    uri = _put(store, manifest_key(request.video_id, root), manifest.to_json())
    return _result(element, manifest, uri)


def _write_revisions(
    element: VideoTranscripts, store: ObjectStore, options: CaptionOptions
) -> CaptionResult:
    request = element.request
    video_id = request.video_id
    laid_out = _laid_out(element, options)
    formats = _caption_formats(options)
    if formats:  # the .vtt is the revision: kept whichever caption formats are asked for

        def commit(item: LaidOut) -> TrackChange | None:
            transcript, cues, kind = item
            return commit_generated(
                store,
                video_id,
                transcript.language,
                cues,
                kind=kind,
                formats=formats,
                manifest=False,  # synced once below, with every track
            )

        changes = tuple(c for c in _WRITERS.map(commit, laid_out) if c is not None)
    else:
        changes = ()
    json_tracks = _write_transcript_json(element, store, options)
    base = _ready_manifest(element, options, json_tracks, cues=len(laid_out[0][1]))
    manifest = sync_manifest(store, video_id, base) or base
    made = {transcript.language for transcript, _, _ in laid_out}
    settle_pending(store, video_id, requested_languages(request) | made, request.event_id)
    return _result(element, manifest, store.uri(manifest_key(video_id)), changes=changes)


def _write_failure(
    element: VideoFailed, store: ObjectStore, options: CaptionOptions
) -> CaptionResult:
    request = element.request
    model = options.whisper.model_label
    key = manifest_key(request.video_id, options.captions_root)
    if request.regenerate and options.keeps_revisions:
        existing = read_manifest(store, key)
        if existing is not None and existing.status == "ready":  # its captions stay as they were
            error = ErrorDetail.from_failure(element.failure)
            languages = requested_languages(request)
            settle_pending(store, request.video_id, languages, request.event_id, error)
            return _result(element, existing, store.uri(key), status="failed")
    manifest = Manifest.failed(element.failure, source=request.source, model=model)
    return _result(element, manifest, _put(store, key, manifest.to_json()))


def _write_transcript_json(
    element: VideoTranscripts, store: ObjectStore, options: CaptionOptions
) -> list[TrackRef]:
    """`transcript.json`, the words and their times of the spoken language, if asked for."""
    if "json" not in options.formats:
        return []
    main = element.transcripts[0]
    key = caption_key(element.request.video_id, "transcript.json", options.captions_root)
    uri = _put(store, key, write_transcript_json(main))
    return [TrackRef(main.language, "captions", "json", uri, key)]


def _caption_formats(options: CaptionOptions) -> tuple[str, ...]:
    """The caption formats asked for, in the registry's order."""
    return tuple(f for f in CAPTION_FORMATS if f in options.formats)


def _ready_manifest(
    element: VideoTranscripts, options: CaptionOptions, tracks: list[TrackRef], cues: int
) -> Manifest:
    request = element.request
    return Manifest.ready(
        request.video_id,
        request.source,
        duration_s=element.duration_s,
        language=element.transcripts[0].language,
        tracks=tuple(tracks),
        model=options.whisper.model_label,
        cues=cues,
        vocabulary=vocabulary_for(request, options),
    )


def _result(
    element: VideoTranscripts | VideoFailed,
    manifest: Manifest,
    uri: str,
    *,
    status: str | None = None,
    changes: tuple[TrackChange, ...] = (),
) -> CaptionResult:
    """The result of a written video, as its manifest tells it (`status` overrides it)."""
    return CaptionResult(
        video_id=manifest.video_id,
        source=element.request.source,
        status=status or manifest.status,
        manifest_uri=uri,
        language=manifest.language,
        cues=manifest.cues or 0,
        tracks=manifest.tracks,
        processing_s=time.time() - element.started if element.started else 0.0,
        request=element.request,
        model=manifest.model,
        duration_s=manifest.duration_s or 0.0,
        failure=element.failure if isinstance(element, VideoFailed) else None,
        changes=changes,
    )


def _put(store: ObjectStore, key: str, text: str) -> str:
    return store.put_bytes(key, text.encode("utf-8"), content_type_for(key))
