"""`AlignScripts`: an upload that brings its transcript gets exactly those words, timed.

After assembly, for a video whose upload names a transcript (`UploadRequest.transcript`), the
written words are placed against what the model heard (`transforms.alignment.place_words`),
then forced onto the audio window by window with the model already loaded
(`transforms.whisper.force_align`): the audio is decoded again as a stream and only the window
at hand is held, so memory does not grow with the length. The spoken language's transcript is
replaced by the written words with their times, with an `AlignmentReport`; the write step makes
it a revision that is a person's words (`generated` false, maker `aligned`). Videos without a
transcript pass through untouched.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import replace
from typing import Any, Final

import apache_beam as beam
import numpy as np

from captions.cues import Cue, time_cues
from captions.rules import CaptionRules, rules_for_language
from captions.scripts import (
    MAX_SCRIPT_BYTES,
    ScriptError,
    WrittenWord,
    is_unspaced,
    script_cues,
    script_text,
    written_words,
)
from connectors import media
from connectors.storage.sources import local_source
from schemas.errors import CaptionError, ErrorCode, failure_from_exception
from schemas.events import UploadRequest
from schemas.transcript import Word
from transforms import progress
from transforms.alignment import (
    Placed,
    Window,
    heard_units,
    limits,
    place_words,
    plan_windows,
    settle,
)
from transforms.chunks import WINDOW
from transforms.domain import AlignmentReport, VideoFailed, VideoTranscripts
from transforms.settings import CaptionOptions
from transforms.transcript import sentence_segments
from transforms.whisper import SileroVad, batch_size, force_align, load_whisper, worker_pool

log = logging.getLogger(__name__)


class AlignScripts(beam.DoFn):
    """VideoTranscripts | VideoFailed in and out: a video with a transcript comes out with its
    written words timed (or failed with `invalid_transcript`); every other passes."""

    def __init__(self, options: CaptionOptions) -> None:
        self.options = options

    def process(self, element: VideoTranscripts | VideoFailed) -> Iterator[Any]:
        if isinstance(element, VideoFailed) or element.request.transcript is None:
            yield element
            return
        request = element.request
        try:
            progress.report("aligning", request.video_id)
            yield align_video(element, self.options)
        except Exception as exc:  # one video's problem must not stop the others
            if not isinstance(exc, CaptionError):
                log.exception("aligning the transcript of %s failed", request.video_id)
            failure = failure_from_exception(exc, request.video_id, request.source)
            yield VideoFailed(request, failure, element.started)


def read_script(uri: str, options: CaptionOptions, *, keep_cues: bool = False) -> list[Cue]:
    """A supplied transcript at `uri` (the rules of a source apply) as cues: a caption file's
    own cues when `keep_cues`, else one cue holding all its words (times meaningless)."""
    roots = options.file_roots or None
    try:
        with (
            local_source(uri, file_root=roots, max_bytes=MAX_SCRIPT_BYTES) as path,
            open(path, "rb") as file,
        ):
            data = file.read(MAX_SCRIPT_BYTES + 1)
        if keep_cues:
            return script_cues(data)
        return [Cue(0.0, 0.0, (script_text(data),), ())]
    except ScriptError as exc:
        raise CaptionError(ErrorCode.INVALID_TRANSCRIPT, str(exc)) from None
    except CaptionError as exc:
        if exc.code == ErrorCode.UNSUPPORTED_MEDIA:  # over the size limit
            raise CaptionError(ErrorCode.INVALID_TRANSCRIPT, exc.message) from None
        raise CaptionError(exc.code, f"transcript: {exc.message}") from None


def align_video(element: VideoTranscripts, options: CaptionOptions) -> VideoTranscripts:
    """The video with its spoken transcript replaced by the supplied words, timed."""
    request = element.request
    assert request.transcript is not None
    heard = element.transcripts[0]
    language = heard.language if heard.language != "und" else (request.language or "en")
    unspaced = is_unspaced(language)
    given = read_script(request.transcript, options, keep_cues=request.keep_cues)
    groups = [_cue_words(cue, language, spaced=k > 0) for k, cue in enumerate(given)]
    written = [word for group in groups for word in group]
    rate, most = limits(unspaced)
    units = heard_units(heard.words, unspaced)
    placed, uncaptioned = place_words(written, units, element.duration_s, rate)
    windows = plan_windows(placed, element.duration_s, most)
    forced = _force(request.source, windows, placed, language, options)
    words, aligned, interpolated = settle(placed, forced, element.duration_s)
    log.info(
        "aligned the transcript of %s: %d words, %d by alignment, %d interpolated, "
        "%d stretches of speech without words",
        request.video_id,
        len(words),
        aligned,
        interpolated,
        len(uncaptioned),
    )
    segments = tuple(sentence_segments(words, language))
    transcript = replace(heard, language=language, segments=segments)
    kept: tuple[Cue, ...] = ()
    if request.keep_cues:
        rules = rules_for_language(language, options.rules)
        kept = tuple(retimed_cues(given, groups, words, rules, element.duration_s, request))
    report = AlignmentReport(
        request.transcript,
        len(words),
        aligned,
        interpolated,
        tuple((u.start, u.end, u.heard) for u in uncaptioned),
        kept,
    )
    return replace(element, transcripts=(transcript, *element.transcripts[1:]), alignment=report)


def _force(
    source: str,
    windows: list[Window],
    placed: list[Placed],
    language: str,
    options: CaptionOptions,
) -> dict[int, tuple[float, float, float]]:
    """Each window's words forced onto its audio: word index -> (start, end, probability).

    Windows go to the model's workers a few at a time (as transcription's batches do), at most
    one batch waiting behind those running, so the audio held stays a few windows long."""
    if not windows:
        return {}
    model = load_whisper(options.whisper)
    workers = model.model.num_workers
    pool = worker_pool(workers)
    size = batch_size(options.whisper)
    forced: dict[int, tuple[float, float, float]] = {}
    running: deque[Future[list[tuple[int, tuple[float, float, float]]]]] = deque()

    def align_batch(
        batch: list[tuple[Window, np.ndarray]],
    ) -> list[tuple[int, tuple[float, float, float]]]:
        items = [
            (audio, [(placed[k].word.text, placed[k].word.space_before) for k in w.words])
            for w, audio in batch
        ]
        out = []
        for (window, audio), timed in zip(batch, force_align(model, items, language), strict=True):
            speech = speech_frames(audio)
            for k, (start, end, prob) in zip(window.words, timed, strict=True):
                start, end = trim_to_speech(start, end, speech)
                out.append((k, (window.start + start, window.start + end, prob)))
        return out

    def collect(until: int) -> None:
        while len(running) > until:
            forced.update(running.popleft().result())

    batch: list[tuple[Window, np.ndarray]] = []
    roots = options.file_roots or None
    with local_source(source, file_root=roots, max_bytes=options.max_source_bytes) as path:
        info = media.probe(path, max_duration_s=options.max_duration_s)
        blocks = media.decode_pcm(path, info, max_duration_s=options.max_duration_s)
        for window, audio in window_audio(blocks, windows):
            batch.append((window, audio))
            if len(batch) >= size:
                running.append(pool.submit(align_batch, batch))
                batch = []
                collect(workers)
    if batch:
        running.append(pool.submit(align_batch, batch))
    collect(0)
    return forced


def window_audio(
    blocks: Iterator[np.ndarray], windows: list[Window]
) -> Iterator[tuple[Window, np.ndarray]]:
    """Each window with its samples, cut from a stream of blocks; only the audio from the
    earliest window still to come is held. Windows must be in order of their start."""
    rate = media.SAMPLE_RATE
    held = np.zeros(0, dtype=np.int16)
    base = 0  # the sample index of held[0]
    pending = iter(windows)
    window = next(pending, None)
    for block in blocks:
        held = np.concatenate([held, block])
        while window is not None and base + len(held) >= round(window.end * rate):
            yield window, _cut(held, base, window)
            window = next(pending, None)
            if window is not None:
                drop = max(0, min(len(held), round(window.start * rate) - base))
                held, base = held[drop:], base + drop
        if window is None:
            return
    while window is not None:  # the audio ended first: the windows get what there is
        yield window, _cut(held, base, window)
        window = next(pending, None)


SPEECH_FRAME_S: Final = WINDOW / media.SAMPLE_RATE  # Silero's frame: 32 ms
SPEECH_THRESHOLD: Final = 0.35  # Silero's speech probability counted as speech here


def speech_frames(audio: np.ndarray) -> np.ndarray:
    """Whether each 32 ms frame of a window's audio holds speech (Silero VAD)."""
    samples = audio.astype(np.float32) / 32768.0
    frames = -(-len(samples) // WINDOW)
    padded = np.zeros(frames * WINDOW, dtype=np.float32)
    padded[: len(samples)] = samples
    return np.asarray(SileroVad()(padded.reshape(frames, WINDOW)) >= SPEECH_THRESHOLD)


def trim_to_speech(start: float, end: float, speech: np.ndarray) -> tuple[float, float]:
    """A forced word's times without the pause it took in at either end: cross-attention
    alignment gives a pause to the word beside it; the word keeps the frames where Silero
    hears speech (and all of its time when it hears none)."""
    a = int(start / SPEECH_FRAME_S)
    b = min(len(speech), int(np.ceil(end / SPEECH_FRAME_S)))
    inside = np.flatnonzero(speech[a:b]) if b > a else np.zeros(0, dtype=np.int64)
    if not len(inside):
        return start, end
    first = (a + int(inside[0])) * SPEECH_FRAME_S
    last = (a + int(inside[-1]) + 1) * SPEECH_FRAME_S
    return max(start, first), max(max(start, first), min(end, last))


def _cut(held: np.ndarray, base: int, window: Window) -> np.ndarray:
    rate = media.SAMPLE_RATE
    a = max(0, round(window.start * rate) - base)
    b = max(a, round(window.end * rate) - base)
    audio = held[a:b]
    return audio if len(audio) else np.zeros(rate // 10, dtype=np.int16)


def _cue_words(cue: Cue, language: str, *, spaced: bool) -> list[WrittenWord]:
    """The written words of one cue; the first has a space before it unless it starts the
    transcript or the writing has no spaces."""
    words = written_words("\n".join(cue.lines), language)
    if words and spaced and not is_unspaced(language):
        words[0] = WrittenWord(words[0].text, True)
    return words


def retimed_cues(
    given: list[Cue],
    groups: list[list[WrittenWord]],
    words: list[Word],
    rules: CaptionRules,
    duration_s: float,
    request: UploadRequest,
) -> list[Cue]:
    """A caption file's own cues, kept as written, timed by their aligned words: every cue, or
    only those in `request.retime_cues` (the others keep the file's times); cues never
    overlap. A cue without words keeps its times."""
    first, last = request.retime_cues or (0, len(given) - 1)
    per_cue: list[list[Word]] = []
    at = 0
    for group in groups:
        per_cue.append(words[at : at + len(group)])
        at += len(group)
    spoken = [k for k, cue_words in enumerate(per_cue) if cue_words]
    new_times = time_cues([per_cue[k] for k in spoken], rules, duration_s)
    timed = dict(zip(spoken, new_times, strict=True))
    times = [
        timed[k] if k in timed and first <= k <= last else (cue.start, cue.end)
        for k, cue in enumerate(given)
    ]
    for k in range(1, len(times)):  # a re-timed cue gives way to the kept cue beside it
        (a0, a1), (b0, b1) = times[k - 1], times[k]
        if a1 + rules.min_gap_s > b0:
            if first <= k - 1 <= last:
                times[k - 1] = (a0, max(a0, b0 - rules.min_gap_s))
            else:
                times[k] = (max(b0, a1 + rules.min_gap_s), max(b1, a1 + rules.min_gap_s))
    return [
        Cue(start, max(start, end), cue.lines, tuple(cue_words), cue.markup)
        for cue, cue_words, (start, end) in zip(given, per_cue, times, strict=True)
    ]
