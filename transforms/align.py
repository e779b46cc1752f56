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
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Final

import apache_beam as beam
import numpy as np

from captions.line_breaks import SENTENCE_END
from captions.scripts import MAX_SCRIPT_BYTES, ScriptError, is_unspaced, script_text, written_words
from connectors import media
from connectors.storage.sources import local_source
from schemas.errors import CaptionError, ErrorCode, failure_from_exception
from schemas.transcript import Segment, Word, join_words
from transforms import progress
from transforms.alignment import Placed, Window, heard_units, place_words, plan_windows, settle
from transforms.chunks import WINDOW
from transforms.domain import AlignmentReport, VideoFailed, VideoTranscripts
from transforms.settings import CaptionOptions
from transforms.whisper import SileroVad, force_align, load_whisper

log = logging.getLogger(__name__)

WINDOWS_PER_CALL: Final = 4  # windows the model aligns in one call


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


def read_script(uri: str, options: CaptionOptions) -> str:
    """The words of a supplied transcript at `uri` (the rules of a source apply)."""
    roots = options.file_roots or None
    try:
        with (
            local_source(uri, file_root=roots, max_bytes=MAX_SCRIPT_BYTES) as path,
            open(path, "rb") as file,
        ):
            data = file.read(MAX_SCRIPT_BYTES + 1)
        return script_text(data)
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
    written = written_words(read_script(request.transcript, options), language)
    unspaced = is_unspaced(language)
    placed, uncaptioned = place_words(
        written, heard_units(heard.words, unspaced), element.duration_s
    )
    windows = plan_windows(placed, element.duration_s)
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
    transcript = replace(heard, language=language, segments=tuple(_sentences(words, language)))
    report = AlignmentReport(
        request.transcript,
        len(words),
        aligned,
        interpolated,
        tuple((u.start, u.end, u.heard) for u in uncaptioned),
    )
    return replace(element, transcripts=(transcript, *element.transcripts[1:]), alignment=report)


def _force(
    source: str,
    windows: list[Window],
    placed: list[Placed],
    language: str,
    options: CaptionOptions,
) -> dict[int, tuple[float, float, float]]:
    """Each window's words forced onto its audio: word index -> (start, end, probability)."""
    if not windows:
        return {}
    model = load_whisper(options.whisper)
    forced: dict[int, tuple[float, float, float]] = {}
    batch: list[tuple[Window, np.ndarray]] = []

    def run(batch: list[tuple[Window, np.ndarray]]) -> None:
        items = [
            (audio, [(placed[k].word.text, placed[k].word.space_before) for k in w.words])
            for w, audio in batch
        ]
        for (window, audio), timed in zip(batch, force_align(model, items, language), strict=True):
            speech = speech_frames(audio)
            for k, (start, end, prob) in zip(window.words, timed, strict=True):
                start, end = trim_to_speech(start, end, speech)
                forced[k] = (window.start + start, window.start + end, prob)

    roots = options.file_roots or None
    with local_source(source, file_root=roots, max_bytes=options.max_source_bytes) as path:
        info = media.probe(path, max_duration_s=options.max_duration_s)
        blocks = media.decode_pcm(path, info, max_duration_s=options.max_duration_s)
        for window, audio in window_audio(blocks, windows):
            batch.append((window, audio))
            if len(batch) >= WINDOWS_PER_CALL:
                run(batch)
                batch = []
    if batch:
        run(batch)
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


def _sentences(words: list[Word], language: str) -> list[Segment]:
    """The timed words as segments, one a sentence."""
    segments, sentence = [], []
    for word in words:
        sentence.append(word)
        if SENTENCE_END.search(word.text):
            segments.append(_segment(sentence, language))
            sentence = []
    if sentence:
        segments.append(_segment(sentence, language))
    return segments


def _segment(words: list[Word], language: str) -> Segment:
    start, end = words[0].start, max(words[0].start, words[-1].end)
    return Segment(start, end, join_words(words), tuple(words), language)
