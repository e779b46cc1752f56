"""`CaptionVideos`: the one composite every pipeline uses, upload request -> caption result.

    requests -> ReuseExisting -> DecodeAndChunk -> TranscribeChunks -> AssembleVideo
             -> WriteTracks -> results

Each DoFn is a thin shell around the pure step it names. A bad video becomes a `Failure` that
travels the same path and ends as a `failed` manifest; nothing here raises for bad input.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import apache_beam as beam
from apache_beam.coders import PickleCoder, VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.userstate import (
    BagStateSpec,
    CombiningValueStateSpec,
    ReadModifyWriteStateSpec,
)

from connectors import media
from connectors.storage import (
    CAPTIONS_ROOT,
    ObjectStore,
    caption_key,
    local_source,
    manifest_key,
    open_store,
)
from schemas.errors import ErrorCode, Failure, failure_from_exception
from schemas.events import PIPELINE_VERSION, TrackRef, UploadRequest
from schemas.manifest import Manifest
from schemas.transcript import Transcript
from transforms.chunks import ChunkingOptions, speech_chunks
from transforms.cues import CaptionRules, layout_cues
from transforms.languages import rules_for_language
from transforms.tracks import CONTENT_TYPES, write_srt, write_transcript_json, write_vtt
from transforms.transcript import assemble_transcript
from transforms.whisper import (
    FAILED,
    Chunk,
    ChunkFailed,
    ChunkTranscript,
    TranscribeChunks,
    WhisperSettings,
)

log = logging.getLogger(__name__)
_WRITERS = ThreadPoolExecutor(8, thread_name_prefix="write-tracks")
SUMMARY = "summary"
REUSED = "reused"

# Progress listener for the CLI: called in-process with (event, video_id, detail). Workers in
# other processes have none, so reporting never affects results.
progress_listener: Callable[[str, str, dict[str, Any]], None] | None = None


def _progress(event: str, video_id: str, **detail: Any) -> None:
    if progress_listener is not None:
        progress_listener(event, video_id, detail)


@dataclass(frozen=True)
class CaptionOptions:
    """Everything `CaptionVideos` needs besides the input; picklable."""

    storage_url: str
    whisper: WhisperSettings = field(default_factory=WhisperSettings)
    rules: CaptionRules = field(default_factory=CaptionRules)
    chunking: ChunkingOptions = field(default_factory=ChunkingOptions)
    formats: tuple[str, ...] = ("vtt", "srt", "json")
    default_language: str | None = None  # None: detect
    translate_to: tuple[str, ...] = ()
    hotwords: str | None = None  # vocabulary for uploads that bring none of their own
    initial_prompt: str | None = None
    max_duration_s: float | None = 4 * 3600.0
    max_source_bytes: int | None = 8 * 2**30  # s3:// sources are staged in a bounded temp file
    file_root: str | None = None  # file:// sources must lie under it when set
    captions_root: str = CAPTIONS_ROOT  # "": outputs directly under the storage URL (the CLI)
    # Spread one long video's chunks over workers. Off locally: the FnApiRunner would hold every
    # chunk's audio in memory at that boundary, while without it audio streams through.
    reshuffle: bool = False
    # An upload whose ready manifest exists for this source, pipeline version and model is
    # answered from that manifest, without decoding or inference (replays, resumed backfills).
    reuse_existing: bool = False

    @property
    def version(self) -> str:
        """What makes outputs differ: the pipeline's version and the model's."""
        return f"{PIPELINE_VERSION}/{self.whisper.model_label}"


def job_key(request: UploadRequest) -> str:
    """The fan-in key: one video from one source. Two events for the same upload collapse into
    one job; a re-upload with another source in the same batch stays a job of its own."""
    digest = hashlib.sha256(request.source.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{request.video_id}|{digest}"


@dataclass(frozen=True)
class VideoAudio:
    """What decoding learned about one video: how many chunk results to wait for."""

    request: UploadRequest
    duration_s: float
    chunks: int
    tasks: tuple[str, ...]
    failure: Failure | None = None
    started: float = 0.0


@dataclass(frozen=True)
class VideoTranscripts:
    request: UploadRequest
    duration_s: float
    transcripts: tuple[Transcript, ...]  # one per task, transcription first
    started: float = 0.0


@dataclass(frozen=True)
class VideoFailed:
    request: UploadRequest
    failure: Failure
    started: float = 0.0


@dataclass(frozen=True)
class CaptionResult:
    """One video's outcome, as written to its manifest."""

    video_id: str
    source: str
    status: str  # "ready" | "failed"
    manifest_uri: str
    language: str | None = None
    duration_s: float = 0.0
    cues: int = 0
    tracks: tuple[TrackRef, ...] = ()
    failure: Failure | None = None
    processing_s: float = 0.0
    request: UploadRequest | None = None
    model: str = ""
    reused: bool = False  # answered from an existing manifest


def tasks_for(request: UploadRequest, options: CaptionOptions) -> tuple[str, ...]:
    """Transcribe always; add Whisper's translate task when English is asked for and the
    speech is not already English."""
    wanted = request.translate_to or options.translate_to
    language = request.language or options.default_language
    if "en" in wanted and language != "en":
        return ("transcribe", "translate")
    return ("transcribe",)


def vocabulary_for(
    request: UploadRequest, options: CaptionOptions
) -> tuple[str | None, str | None]:
    """(hotwords, initial prompt) of an upload: its own when it brings any, else the defaults."""
    if request.hotwords is not None or request.initial_prompt is not None:
        return request.hotwords, request.initial_prompt
    return options.hotwords, options.initial_prompt


class ReuseExisting(beam.DoFn):
    """Answer an upload from its existing ready manifest (tagged `reused`), else pass it on."""

    def __init__(self, options: CaptionOptions) -> None:
        self.options = options
        self.reused = Metrics.counter("autocaption", "videos_reused")

    def setup(self) -> None:
        self.store = open_store(self.options.storage_url)

    def process(self, request: UploadRequest) -> Iterator[Any]:
        if self.options.reuse_existing:
            manifest = self._ready_manifest(request)
            if manifest is not None:
                self.reused.inc()
                _progress("skipped", request.video_id)
                uri = self.store.uri(manifest_key(request.video_id, self.options.captions_root))
                yield beam.pvalue.TaggedOutput(REUSED, result_from_manifest(manifest, uri, request))
                return
        yield request

    def _ready_manifest(self, request: UploadRequest) -> Manifest | None:
        key = manifest_key(request.video_id, self.options.captions_root)
        try:
            manifest = Manifest.from_json(self.store.get_bytes(key))
        except FileNotFoundError:
            return None
        except ValueError:
            log.warning("unreadable manifest %s: captioning again", key)
            return None
        vocabulary = vocabulary_for(request, self.options)
        same = (
            manifest.status == "ready"
            and manifest.source == request.source
            and manifest.pipeline_version == PIPELINE_VERSION
            and manifest.model == self.options.whisper.model_label
            and (manifest.vocabulary or (None, None)) == vocabulary
        )
        return manifest if same else None


def result_from_manifest(manifest: Manifest, uri: str, request: UploadRequest) -> CaptionResult:
    return CaptionResult(
        video_id=manifest.video_id,
        source=manifest.source or request.source,
        status=manifest.status,
        manifest_uri=uri,
        language=manifest.language,
        duration_s=manifest.duration_s or 0.0,
        cues=manifest.cues or 0,
        tracks=tuple(manifest.tracks),
        request=request,
        model=manifest.model,
        reused=True,
    )


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
        try:
            root = Path(self.options.file_root) if self.options.file_root else None
            with local_source(
                request.source, file_root=root, max_bytes=self.options.max_source_bytes
            ) as path:
                info = media.probe(path, max_duration_s=self.options.max_duration_s)
                _progress("decoding", request.video_id, duration_s=info.duration_s)
                samples = 0

                def counted() -> Iterator[Any]:
                    nonlocal samples
                    limit = self.options.max_duration_s
                    for block in media.decode_pcm(path, info, max_duration_s=limit):
                        samples += len(block)
                        yield block

                for audio in speech_chunks(counted(), self.options.chunking):
                    for task in tasks:
                        yield Chunk(job, count, task, language, audio, hotwords, prompt)
                    count += 1
                    self.chunk_counter.inc()
                    _progress("chunk", request.video_id, index=count)
            duration = samples / media.SAMPLE_RATE
            self.audio_seconds.inc(int(duration))
            summary = VideoAudio(request, duration, count, tasks, started=started)
        except Exception as exc:  # every per-video problem becomes a value
            failure = failure_from_exception(exc, request.video_id, request.source)
            summary = VideoAudio(request, 0.0, count, tasks, failure, started)
        yield beam.pvalue.TaggedOutput(SUMMARY, (job, summary))


class AssembleVideo(beam.DoFn):
    """Fan-in, keyed by job: waits for the summary and every chunk result, then emits
    `VideoTranscripts` or `VideoFailed`. State makes it correct on streaming runners too;
    repeated parts (the same upload twice in one batch) count once."""

    PARTS = BagStateSpec("parts", PickleCoder())
    COUNT = CombiningValueStateSpec("count", VarIntCoder(), sum)
    SUMMARY = ReadModifyWriteStateSpec("summary", PickleCoder())
    DONE = ReadModifyWriteStateSpec("done", PickleCoder())

    def __init__(self, options: CaptionOptions) -> None:
        self.options = options

    def process(
        self,
        element: tuple[str, Any],
        parts: Any = beam.DoFn.StateParam(PARTS),
        count: Any = beam.DoFn.StateParam(COUNT),
        summary_state: Any = beam.DoFn.StateParam(SUMMARY),
        done: Any = beam.DoFn.StateParam(DONE),
    ) -> list[VideoTranscripts | VideoFailed]:
        # Returns a list, never yields: Beam warns about generators that also return early.
        _, part = element
        if done.read():
            return []
        if isinstance(part, VideoAudio):
            if summary_state.read() is None:
                summary_state.write(part)
        else:
            parts.add(part)
            count.add(1)
        summary: VideoAudio | None = summary_state.read()
        if summary is None:
            return []
        expected = summary.chunks * len(summary.tasks)
        # the bag is read only once enough parts arrived, not once per chunk
        if summary.failure is None and count.read() < expected:
            return []
        results: dict[tuple[int, str], ChunkTranscript | ChunkFailed] = {}
        for p in parts.read():
            results.setdefault((p.index, p.task), p)
        if summary.failure is None and len(results) < expected:
            return []  # some parts were repeats; wait for the rest
        done.write(True)
        parts.clear()
        count.clear()
        summary_state.clear()
        try:
            return [self._finish(summary, list(results.values()))]
        except Exception as exc:  # a bug in one video's assembly must not stop the others
            log.exception("assembling %s failed", summary.request.video_id)
            request = summary.request
            failure = failure_from_exception(exc, request.video_id, request.source)
            return [VideoFailed(request, failure, summary.started)]

    def _finish(self, summary: VideoAudio, results: list[Any]) -> VideoTranscripts | VideoFailed:
        request = summary.request
        if summary.failure is not None:
            return VideoFailed(request, summary.failure, summary.started)
        broken = [r for r in results if isinstance(r, ChunkFailed)]
        if broken:
            message = f"inference failed on chunk {broken[0].index}: {broken[0].message}"
            failure = Failure(request.video_id, ErrorCode.INTERNAL, message, request.source)
            return VideoFailed(request, failure, summary.started)
        language = request.language or self.options.default_language
        transcripts = [
            assemble_transcript(
                request.video_id,
                summary.duration_s,
                [r for r in results if r.task == task],
                task=task,
                language=language,
                model=self.options.whisper.model_label,
            )
            for task in summary.tasks
        ]
        if len(transcripts) == 2 and transcripts[0].language == "en":
            transcripts = transcripts[:1]  # already English: the translation adds nothing
        return VideoTranscripts(request, summary.duration_s, tuple(transcripts), summary.started)


class WriteTracks(beam.DoFn):
    """Lay out cues, write the tracks and `transcript.json`, then the manifest (last)."""

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
        _progress(result.status, result.video_id, result=result)
        yield result


def write_video(
    element: VideoTranscripts | VideoFailed, store: ObjectStore, options: CaptionOptions
) -> CaptionResult:
    """Tracks, `transcript.json`, then the manifest (last) written to storage; the
    `CaptionResult` out. Keys are deterministic: a replay overwrites, never duplicates."""
    model = options.whisper.model_label
    root = options.captions_root
    request = element.request
    if isinstance(element, VideoFailed):
        manifest = Manifest.failed(element.failure, source=request.source, model=model)
        uri = store.put_bytes(
            manifest_key(request.video_id, root), manifest.to_json().encode(), "application/json"
        )
        return CaptionResult(
            video_id=request.video_id,
            source=request.source,
            status="failed",
            manifest_uri=uri,
            failure=element.failure,
            processing_s=time.time() - element.started if element.started else 0.0,
            request=request,
            model=model,
        )
    tracks: list[TrackRef] = []
    bodies: list[tuple[str, bytes, str]] = []  # key, body, content type
    cue_count = 0
    for transcript in element.transcripts:
        rules = rules_for_language(transcript.language, options.rules)
        cues = layout_cues(transcript.words, rules, transcript.duration_s)
        kind: Literal["captions", "subtitles"] = (
            "captions" if transcript.task == "transcribe" else "subtitles"
        )
        if transcript.task == "transcribe":
            cue_count = len(cues)
        formats: tuple[Literal["vtt", "srt"], ...] = ("vtt", "srt")
        for fmt in formats:
            if fmt not in options.formats:
                continue
            lang = transcript.language
            body = write_vtt(cues, lang) if fmt == "vtt" else write_srt(cues, lang)
            key = caption_key(request.video_id, f"{transcript.language}.{fmt}", root)
            bodies.append((key, body.encode("utf-8"), CONTENT_TYPES[fmt]))
            tracks.append(TrackRef(transcript.language, kind, fmt, store.uri(key), key))
    main = element.transcripts[0]
    if "json" in options.formats:
        key = caption_key(request.video_id, "transcript.json", root)
        bodies.append((key, write_transcript_json(main).encode("utf-8"), CONTENT_TYPES["json"]))
        tracks.append(TrackRef(main.language, "captions", "json", store.uri(key), key))
    # The tracks at once (object stores answer in parallel), then the manifest that names them.
    list(_WRITERS.map(lambda item: store.put_bytes(*item), bodies))
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
    uri = store.put_bytes(
        manifest_key(request.video_id, root), manifest.to_json().encode("utf-8"), "application/json"
    )
    return CaptionResult(
        video_id=request.video_id,
        source=request.source,
        status="ready",
        manifest_uri=uri,
        language=main.language,
        duration_s=element.duration_s,
        cues=cue_count,
        tracks=tuple(tracks),
        processing_s=time.time() - element.started,
        request=request,
        model=model,
    )


class CaptionVideos(beam.PTransform):
    """PCollection[UploadRequest] -> PCollection[CaptionResult] (one per distinct upload)."""

    def __init__(self, options: CaptionOptions) -> None:
        super().__init__()
        self.options = options

    def expand(self, requests: beam.PCollection) -> beam.PCollection:
        checked = requests | "ReuseExisting" >> beam.ParDo(
            ReuseExisting(self.options)
        ).with_outputs(REUSED, main="todo")
        decoded = checked.todo | "DecodeAndChunk" >> beam.ParDo(
            DecodeAndChunk(self.options)
        ).with_outputs(SUMMARY, main="chunks")
        chunks = decoded.chunks
        if self.options.reshuffle:
            chunks = chunks | "SpreadChunks" >> beam.Reshuffle()
        transcribed = chunks | "Transcribe" >> beam.ParDo(
            TranscribeChunks(self.options.whisper)
        ).with_outputs(FAILED, main="transcripts")
        written = (
            (decoded[SUMMARY], transcribed.transcripts, transcribed[FAILED])
            # typed so the state key (the job) gets a deterministic coder
            | "Parts" >> beam.Flatten().with_output_types(tuple[str, Any])
            | "AssembleVideo" >> beam.ParDo(AssembleVideo(self.options))
            | "WriteTracks" >> beam.ParDo(WriteTracks(self.options))
        )
        return (written, checked[REUSED]) | "Results" >> beam.Flatten()
