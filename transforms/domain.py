"""The values that travel between the steps of `CaptionVideos`, and the rules that name them.

    UploadRequest -> decode: Chunk (one per speech chunk and task) + VideoAudio (the summary)
                  -> transcribe: ChunkTranscript | ChunkFailed
                  -> assemble: VideoTranscripts | VideoFailed
                  -> write: CaptionResult

Frozen dataclasses and pure functions; no Beam, no faster-whisper.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from captions.cues import Cue
from connectors.translators.routes import needs_whisper_english
from library.track_meta import TrackChange
from schemas.errors import Failure
from schemas.events import PIPELINE_VERSION, ErrorDetail, TrackRef, UploadRequest
from schemas.manifest import Manifest
from schemas.transcript import Segment, Transcript
from transforms.chunks import ChunkAudio
from transforms.settings import CaptionOptions


def job_key(request: UploadRequest) -> str:
    """The fan-in key: one upload of one video. The same event delivered twice collapses into
    one job; a new upload (another event, or another source) is a job of its own, also when it
    re-uses the video id and the file name."""
    what = "\x1f".join([request.source, request.event_id or ""])
    digest = hashlib.sha256(what.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{request.video_id}|{digest}"


def targets_of(request: UploadRequest, options: CaptionOptions) -> tuple[str, ...]:
    """The languages an upload is to be translated into: its own, else the run's default."""
    return request.translate_to or options.translate_to


def tasks_for(request: UploadRequest, options: CaptionOptions) -> tuple[str, ...]:
    """Transcribe always; add Whisper's translate task when English is asked for and the
    speech is not already English, or when a target is reached only through Whisper's English
    (`connectors.translators.routes`)."""
    language = request.language or options.default_language
    if language == "en":
        return ("transcribe",)
    if needs_whisper_english(language, targets_of(request, options), options.translators):
        return ("transcribe", "translate")
    return ("transcribe",)


def requested_languages(request: UploadRequest) -> set[str]:
    """The tracks an upload asks for by name: its spoken language and its translations."""
    return {*request.translate_to, *([request.language] if request.language else [])}


def vocabulary_for(
    request: UploadRequest, options: CaptionOptions
) -> tuple[str | None, str | None]:
    """(hotwords, initial prompt) of an upload: its own when it brings any, else the defaults."""
    if request.hotwords is not None or request.initial_prompt is not None:
        return request.hotwords, request.initial_prompt
    return options.hotwords, options.initial_prompt


@dataclass(frozen=True)
class Chunk:
    """One speech chunk of one video, to be decoded with one task."""

    job: str  # the fan-in key of its video (`job_key`)
    index: int
    task: str  # "transcribe" or "translate"
    language: str | None  # None: detect
    audio: ChunkAudio
    hotwords: str | None = None  # the upload's vocabulary (see transforms.whisper)
    initial_prompt: str | None = None


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


@dataclass(frozen=True)
class ChunkFailed:
    """A chunk the model could not transcribe (its video then fails with code `internal`)."""

    index: int
    task: str
    message: str


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
class TranslatedTrack:
    """One text translation of a video's speech, laid out as cues; or why it could not be made
    (`error`: that track fails, the video's others are made)."""

    language: str
    cues: tuple[Cue, ...] = ()
    translator: str = ""  # the route's translators ("firefox", "whisper+firefox")
    via: str | None = None  # the language it went through
    error: ErrorDetail | None = None


@dataclass(frozen=True)
class AlignmentReport:
    """What aligning a supplied transcript did: its URI, its words, how many alignment placed
    and how many it interpolated (no speech to align to), and the speech left without words
    ((start, end, what the model heard) each)."""

    transcript: str
    words: int
    aligned: int
    interpolated: int
    uncaptioned: tuple[tuple[float, float, str], ...] = ()
    cues: tuple[Cue, ...] = ()  # a caption file's own cues, kept, with their new times

    def to_dict(self) -> dict[str, object]:
        """As the manifest's `alignment` (at most 1000 stretches of uncaptioned speech)."""
        return {
            "transcript": self.transcript,
            "words": self.words,
            "aligned": self.aligned,
            "interpolated": self.interpolated,
            "uncaptioned": [
                {"start": round(a, 3), "end": round(max(a, b), 3), "heard": heard[:2000]}
                for a, b, heard in self.uncaptioned[:1000]
            ],
        }


@dataclass(frozen=True)
class VideoTranscripts:
    """Every transcript of one video (one per task, transcription first) and, after the
    translate step, its text translations."""

    request: UploadRequest
    duration_s: float
    transcripts: tuple[Transcript, ...]
    started: float = 0.0
    translations: tuple[TranslatedTrack, ...] = ()
    alignment: AlignmentReport | None = None  # the spoken track is a supplied transcript


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
    changes: tuple[TrackChange, ...] = ()  # revisions this answer made (storage with revisions)


def failed_result(
    request: UploadRequest, failure: Failure, processing_s: float = 0.0, model: str = ""
) -> CaptionResult:
    """The answer to an upload that made nothing: `captions.failed` with why."""
    return CaptionResult(
        video_id=request.video_id,
        source=request.source,
        status="failed",
        manifest_uri="",
        failure=failure,
        processing_s=processing_s,
        request=request,
        model=model,
    )


def is_reusable(manifest: Manifest, request: UploadRequest, options: CaptionOptions) -> bool:
    """Whether an existing manifest answers `request`: ready, for the same source, pipeline
    version, model and vocabulary, and the captions were not asked for again."""
    return (
        not request.regenerate
        and manifest.status == "ready"
        and manifest.source == request.source
        and manifest.pipeline_version == PIPELINE_VERSION
        and manifest.model == options.whisper.model_label
        and (manifest.vocabulary or (None, None)) == vocabulary_for(request, options)
        and (manifest.alignment or {}).get("transcript") == request.transcript
        and set(targets_of(request, options)) <= _ready_languages(manifest)
    )


def _ready_languages(manifest: Manifest) -> set[str]:
    made = {t.language for t in manifest.tracks if t.status == "ready"}
    return made | ({manifest.language} if manifest.language else set())


def result_from_manifest(manifest: Manifest, uri: str, request: UploadRequest) -> CaptionResult:
    """The result of an upload answered from an existing manifest (`reused`)."""
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
