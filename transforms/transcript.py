"""Transcript assembly: the chunk results of one video -> its `Transcript`s. Pure.

Three jobs: drop what the model invented (hallucination guards), settle the video's language by
a vote over its speech chunks, and put the segments in time order; `video_transcripts` does it
for every task of a video once all its chunk results are in.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from captions.line_breaks import SENTENCE_END
from schemas.errors import ErrorCode, Failure
from schemas.transcript import Segment, Transcript, Word, join_words
from transforms.domain import (
    ChunkFailed,
    ChunkTranscript,
    VideoAudio,
    VideoFailed,
    VideoTranscripts,
)

# Whisper's own thresholds (openai/whisper transcribe.py), applied per chunk / segment.
NO_SPEECH_THRESHOLD = 0.6
LOGPROB_THRESHOLD = -1.0
COMPRESSION_RATIO_THRESHOLD = 2.4
MAX_REPEATS = 2  # an n-gram said more than twice in a row is a decoding loop
MAX_LOOP_NGRAM = 6
UNDETERMINED = "und"  # ISO 639-2 code for "no speech to tell"


@dataclass(frozen=True)
class Guards:
    no_speech_threshold: float = NO_SPEECH_THRESHOLD
    logprob_threshold: float = LOGPROB_THRESHOLD
    compression_ratio_threshold: float = COMPRESSION_RATIO_THRESHOLD
    max_repeats: int = MAX_REPEATS


def compression_ratio(text: str) -> float:
    """How repetitive a text is: its length over its zlib-compressed length."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def is_silence(chunk: ChunkTranscript, guards: Guards = Guards()) -> bool:
    """Whisper's rule: probably no speech, and not confident about the text either."""
    return (
        chunk.no_speech_prob > guards.no_speech_threshold
        and chunk.avg_logprob < guards.logprob_threshold
    )


def collapse_loops(words: Sequence[Word], max_repeats: int = MAX_REPEATS) -> list[Word]:
    """Remove repetition loops: an n-gram (n <= 6) repeated more than `max_repeats` times in a
    row keeps only its first `max_repeats` occurrences."""
    out = list(words)
    for n in range(1, MAX_LOOP_NGRAM + 1):
        i = 0
        while i + n <= len(out):
            gram = [w.text.lower() for w in out[i : i + n]]
            repeats = 1
            j = i + n
            while j + n <= len(out) and [w.text.lower() for w in out[j : j + n]] == gram:
                repeats += 1
                j += n
            if repeats > max_repeats:
                del out[i + n * max_repeats : j]
            i += 1
    return out


def guard_segments(chunk: ChunkTranscript, guards: Guards = Guards()) -> list[Segment]:
    """The chunk's segments without invented text (see module docstring)."""
    if is_silence(chunk, guards):
        return []
    kept = []
    for segment in chunk.segments:
        if compression_ratio(segment.text) > guards.compression_ratio_threshold:
            words = collapse_loops(segment.words, guards.max_repeats)
            if not words or compression_ratio(join_words(words)) > (
                guards.compression_ratio_threshold
            ):
                continue
            segment = replace(segment, words=tuple(words), text=join_words(words))
        elif len(segment.words) > guards.max_repeats:
            words = collapse_loops(segment.words, guards.max_repeats)
            if len(words) != len(segment.words):
                segment = replace(segment, words=tuple(words), text=join_words(words))
        kept.append(segment)
    return kept


def sentence_segments(words: Sequence[Word], language: str | None = None) -> list[Segment]:
    """Timed words as segments, one a sentence (a word ending one ends its segment)."""
    segments: list[Segment] = []
    sentence: list[Word] = []
    for k, word in enumerate(words):
        sentence.append(word)
        if SENTENCE_END.search(word.text) or k == len(words) - 1:
            start, end = sentence[0].start, max(sentence[0].start, sentence[-1].end)
            segments.append(Segment(start, end, join_words(sentence), tuple(sentence), language))
            sentence = []
    return segments


def vote_language(chunks: Sequence[ChunkTranscript], guards: Guards = Guards()) -> str:
    """The video's language: detections weighted by speech seconds and confidence, over chunks
    that hold speech, so a silent or musical intro cannot decide it alone; "und" when none."""
    votes: dict[str, float] = defaultdict(float)
    for chunk in chunks:
        if is_silence(chunk, guards) or not chunk.segments:
            continue
        votes[chunk.language] += chunk.speech_s * chunk.language_probability
    return max(sorted(votes), key=votes.__getitem__) if votes else UNDETERMINED


def assemble_transcript(
    video_id: str,
    duration_s: float,
    chunks: Sequence[ChunkTranscript],
    *,
    task: str = "transcribe",
    language: str | None = None,
    model: str = "",
    guards: Guards = Guards(),
) -> Transcript:
    """All chunks of one task of one video -> its transcript, segments in time order.

    `language`: the requested one; None settles it by vote (translations are always "en").
    """
    ordered = sorted(chunks, key=lambda c: c.index)
    settled = "en" if task == "translate" else language or vote_language(ordered, guards)
    segments = [replace(s, language=c.language) for c in ordered for s in guard_segments(c, guards)]
    segments.sort(key=lambda s: (s.start, s.end))
    return Transcript(
        video_id=video_id,
        language=settled,
        duration_s=duration_s,
        segments=tuple(segments),
        task=task,
        model=model,
    )


def video_transcripts(
    summary: VideoAudio,
    results: Sequence[ChunkTranscript | ChunkFailed],
    *,
    language: str | None = None,
    model: str = "",
) -> VideoTranscripts | VideoFailed:
    """One video's transcripts (one per task, transcription first) from its decoding summary and
    every chunk result; `VideoFailed` when decoding or any chunk failed. `language`: the
    requested one (None: settled by vote). A translation of English speech is dropped."""
    request = summary.request
    if summary.failure is not None:
        return VideoFailed(request, summary.failure, summary.started)
    broken = [r for r in results if isinstance(r, ChunkFailed)]
    if broken:
        message = f"inference failed on chunk {broken[0].index}: {broken[0].message}"
        failure = Failure(request.video_id, ErrorCode.INTERNAL, message, request.source)
        return VideoFailed(request, failure, summary.started)
    heard = [r for r in results if isinstance(r, ChunkTranscript)]
    transcripts = [
        assemble_transcript(
            request.video_id,
            summary.duration_s,
            [r for r in heard if r.task == task],
            task=task,
            language=language,
            model=model,
        )
        for task in summary.tasks
    ]
    if len(transcripts) == 2 and transcripts[0].language == "en":
        transcripts = transcripts[:1]  # already English: the translation adds nothing
    return VideoTranscripts(request, summary.duration_s, tuple(transcripts), summary.started)
