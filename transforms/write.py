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
from dataclasses import dataclass
from typing import Literal

import apache_beam as beam
from apache_beam.metrics import Metrics

from captions.cues import Cue, layout_cues
from captions.formats import write_caption_track, write_transcript_json
from captions.rules import rules_for_language
from connectors.storage import open_store
from connectors.storage.layout import caption_key, content_type_for, manifest_key
from connectors.storage.store import ObjectStore
from connectors.translators.routes import WHISPER
from library.catalog import (
    VideoRecord,
    buried,
    ensure_registered,
    library_name,
    parse_timestamp,
    precise_timestamp,
    purge,
    tombstone_of,
)
from library.pending import settle_pending
from library.revisions import commit_aligned, commit_generated, current_track, sync_manifest
from library.track_meta import TrackChange
from library.videos import read_manifest
from schemas.errors import ErrorCode, Failure, failure_from_exception
from schemas.events import ErrorDetail, TrackRef, TrackSource, UploadRequest
from schemas.formats import CAPTION_FORMATS
from schemas.manifest import Manifest
from transforms import progress
from transforms.domain import (
    CaptionResult,
    VideoFailed,
    VideoTranscripts,
    failed_result,
    requested_languages,
    targets_of,
    vocabulary_for,
)
from transforms.settings import CaptionOptions

log = logging.getLogger(__name__)
_WRITERS = ThreadPoolExecutor(8, thread_name_prefix="write-tracks")


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

    In the library's storage a video deleted after its upload event occurred stays deleted:
    nothing is written when its tombstone is there before, and what was written is taken back
    when it appears during the writes (`library.catalog`); the answer is then `video_deleted`.
    A video whose event came from elsewhere is put in the library.

    In storage with revisions (`CaptionOptions.keeps_revisions`: the stream service, backfills)
    each track becomes a new revision (`library.revisions.commit_generated`: never over a
    person's), and an upload whose captions were asked for again leaves a ready video as it was
    when it fails. A plain output folder (`caption --out`) just gets the files."""
    if not options.keeps_revisions:
        if isinstance(element, VideoFailed):
            return _write_failure(element, store, options)
        return _write_plain(element, store, options)
    request = element.request
    if buried(store, request.video_id, request.occurred_at):
        log.info("%s was deleted while it was captioned: nothing is written", request.video_id)
        return deleted_result(element.request, started=element.started)
    if isinstance(element, VideoFailed):
        result = _write_failure(element, store, options)
    else:
        result = _write_revisions(element, store, options)
    ensure_registered(store, record_for(request))
    # A delete writes its tombstone, then deletes what it finds: this check, after the last
    # write, sees the tombstone of any delete whose listing could have missed those writes.
    tombstone = tombstone_of(store, request.video_id)
    if tombstone is not None and tombstone.covers(request.occurred_at):
        purge(store, request.video_id, uploads=False, before=tombstone.deleted_at)
        log.info(
            "%s was deleted while it was captioned: what was written is gone", request.video_id
        )
        return deleted_result(element.request, started=element.started)
    return result


def record_for(request: UploadRequest) -> VideoRecord:
    """The library's record of a video whose event came from elsewhere (not the gateway)."""
    name = library_name(request.source.rstrip("/").rpartition("/")[2] or request.video_id)
    uploaded = request.occurred_at
    try:
        at = precise_timestamp(parse_timestamp(uploaded)) if uploaded else precise_timestamp()
    except ValueError:
        at = precise_timestamp()
    return VideoRecord(request.video_id, name, at, request.private)


def deleted_result(request: UploadRequest, *, started: float = 0.0) -> CaptionResult:
    """The answer to an upload of a video deleted after it: `captions.failed`, nothing kept."""
    failure = Failure(
        request.video_id,
        ErrorCode.VIDEO_DELETED,
        "the video was deleted after this upload; nothing was kept",
        request.source,
    )
    return failed_result(request, failure, time.time() - started if started else 0.0)


@dataclass(frozen=True)
class _Track:
    """One track to write: its cues, its kind, and for a translation what made it."""

    language: str
    cues: list[Cue]
    kind: Literal["captions", "subtitles"]
    translator: str | None = None  # None: the spoken language's captions
    via: str | None = None
    alignment: tuple[int, int] | None = None  # a supplied transcript: (aligned, interpolated)

    def source(self, spoken: str, revision: int) -> TrackSource | None:
        if self.translator is None:
            return None
        return TrackSource(spoken, revision, self.translator, self.via)


def _laid_out(element: VideoTranscripts, options: CaptionOptions) -> list[_Track]:
    """The video's tracks, the spoken language's first: each transcript's words laid out under
    the caption rules of its language (Whisper's English translation too), then the text
    translations the translate step laid out."""
    tracks = []
    english_asked = any(t.split("-")[0] == "en" for t in targets_of(element.request, options))
    for transcript in element.transcripts:
        if transcript.task != "transcribe" and not english_asked:
            continue  # Whisper's English, made only to translate through
        if transcript.task == "transcribe" and element.alignment and element.alignment.cues:
            cues = list(element.alignment.cues)  # a person's own cues, kept, re-timed
        else:
            rules = rules_for_language(transcript.language, options.rules)
            cues = layout_cues(transcript.words, rules, transcript.duration_s)
        if transcript.task == "transcribe":
            report = element.alignment
            aligned = None if report is None else (report.aligned, report.interpolated)
            tracks.append(_Track(transcript.language, cues, "captions", alignment=aligned))
        else:
            tracks.append(_Track(transcript.language, cues, "subtitles", WHISPER))
    made = {track.language for track in tracks}
    for translation in element.translations:
        if translation.error is None and translation.language not in made:
            tracks.append(
                _Track(
                    translation.language,
                    list(translation.cues),
                    "subtitles",
                    translation.translator,
                    translation.via,
                )
            )
    return tracks


def _failed_refs(
    element: VideoTranscripts, store: ObjectStore, options: CaptionOptions
) -> list[TrackRef]:
    """An entry for each translation that could not be made: `failed`, with its error."""
    refs = []
    for translation in element.translations:
        if translation.error is not None:
            key = caption_key(
                element.request.video_id, f"{translation.language}.vtt", options.captions_root
            )
            refs.append(
                TrackRef(
                    translation.language,
                    "subtitles",
                    "vtt",
                    store.uri(key),
                    key,
                    status="failed",
                    error=translation.error,
                )
            )
    return refs


def _write_plain(
    element: VideoTranscripts, store: ObjectStore, options: CaptionOptions
) -> CaptionResult:
    root = options.captions_root
    request = element.request
    tracks: list[TrackRef] = []
    bodies: list[tuple[str, str]] = []  # key, text
    laid_out = _laid_out(element, options)
    spoken = laid_out[0].language
    for track in laid_out:
        for fmt in _caption_formats(options):
            key = caption_key(request.video_id, f"{track.language}.{fmt}", root)
            bodies.append((key, write_caption_track(fmt, track.cues, track.language)))
            source = track.source(spoken, 1)  # a plain folder keeps no revisions: the first
            counts = track.alignment
            tracks.append(
                TrackRef(
                    track.language,
                    track.kind,
                    fmt,
                    store.uri(key),
                    key,
                    source=source,
                    maker="aligned" if counts else None,
                    aligned=counts[0] if counts else None,
                    interpolated=counts[1] if counts else None,
                )
            )
    tracks += _failed_refs(element, store, options)
    tracks += _write_transcript_json(element, store, options)
    # The tracks at once (object stores answer in parallel), then the manifest that names them.
    list(_WRITERS.map(lambda item: _put(store, *item), bodies))
    manifest = _ready_manifest(element, options, tracks, cues=len(laid_out[0].cues))
    uri = _put(store, manifest_key(request.video_id, root), manifest.to_json())
    return _result(element, manifest, uri)


def _write_revisions(
    element: VideoTranscripts, store: ObjectStore, options: CaptionOptions
) -> CaptionResult:
    request = element.request
    video_id = request.video_id
    laid_out = _laid_out(element, options)
    formats = _caption_formats(options)
    changes: tuple[TrackChange, ...] = ()
    if formats:  # the .vtt is the revision: kept whichever caption formats are asked for

        def commit(track: _Track, source: TrackSource | None = None) -> TrackChange | None:
            if track.alignment is not None:  # a person's words: made current as asked
                return commit_aligned(
                    store,
                    video_id,
                    track.language,
                    track.cues,
                    alignment=track.alignment,
                    asked_at=request.occurred_at,
                    formats=formats,
                    manifest=False,
                )
            return commit_generated(
                store,
                video_id,
                track.language,
                track.cues,
                kind=track.kind,
                formats=formats,
                manifest=False,  # synced once below, with every track
                source=source,
            )

        # the spoken language's first: its revision is what the translations were made from
        spoken, *others = laid_out
        first = commit(spoken)
        revision = _revision_of(store, video_id, spoken.language, first)
        rest = _WRITERS.map(lambda t: commit(t, t.source(spoken.language, revision)), others)
        changes = tuple(c for c in (first, *rest) if c is not None)
    failed = _failed_refs(element, store, options)
    json_tracks = _write_transcript_json(element, store, options)
    base = _ready_manifest(element, options, failed + json_tracks, cues=len(laid_out[0].cues))
    manifest = sync_manifest(store, video_id, base) or base
    made = {track.language for track in laid_out}
    asked = requested_languages(request) - {ref.language for ref in failed}
    settle_pending(store, video_id, asked | made, request.event_id)
    for ref in failed:
        settle_pending(store, video_id, [ref.language], request.event_id, ref.error)
    return _result(element, manifest, store.uri(manifest_key(video_id)), changes=changes)


def _revision_of(
    store: ObjectStore, video_id: str, language: str, change: TrackChange | None
) -> int:
    """The revision a commit made, or (a replay, nothing made) the current one."""
    if change is not None:
        return change.meta.revision
    current = current_track(store, video_id, language)
    return current.meta.revision if current is not None else 1


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
        alignment=None if element.alignment is None else element.alignment.to_dict(),
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
