"""Transcript assembly: language vote, hallucination guards, order."""

from __future__ import annotations

import numpy as np

from schemas.transcript import Segment, Word
from transforms.domain import ChunkTranscript
from transforms.transcript import (
    assemble_transcript,
    collapse_loops,
    compression_ratio,
    guard_segments,
    vote_language,
)


def _words(text: str, start: float = 0.0) -> tuple[Word, ...]:
    return tuple(
        Word(w, start + i * 0.4, start + i * 0.4 + 0.3) for i, w in enumerate(text.split())
    )


def _chunk(
    index: int,
    text: str,
    language: str = "en",
    *,
    seconds: float = 20.0,
    probability: float = 0.9,
    no_speech: float = 0.01,
    logprob: float = -0.2,
) -> ChunkTranscript:
    words = _words(text, start=index * 30.0)
    segments = (Segment(words[0].start, words[-1].end, text, words),) if words else ()
    return ChunkTranscript(
        "v", index, "transcribe", language, probability, segments, seconds, logprob, no_speech
    )


def test_a_musical_intro_cannot_decide_the_language() -> None:
    intro = _chunk(0, "la la", "nn", seconds=28.0, probability=0.3, no_speech=0.9, logprob=-1.5)
    speech = [_chunk(i, "guten Tag meine Damen", "de", seconds=12.0) for i in range(1, 3)]
    assert vote_language([intro, *speech]) == "de"


def test_vote_weighs_speech_length_and_confidence() -> None:
    chunks = [_chunk(0, "hello", "en", seconds=5.0), _chunk(1, "bonjour", "fr", seconds=25.0)]
    assert vote_language(chunks) == "fr"


def test_no_speech_means_an_undetermined_language() -> None:
    quiet = _chunk(0, "", "en", no_speech=0.95, logprob=-2.0)
    assert vote_language([quiet]) == "und"
    assert vote_language([]) == "und"


def test_text_over_silence_is_dropped() -> None:
    chunk = _chunk(0, "thanks for watching", no_speech=0.8, logprob=-1.4)
    assert guard_segments(chunk) == []


def test_confident_text_is_kept_even_if_quiet() -> None:
    chunk = _chunk(0, "thanks for watching", no_speech=0.8, logprob=-0.3)
    assert len(guard_segments(chunk)) == 1


def test_repetition_loop_is_collapsed() -> None:
    looped = "so we go " + "and then " * 12 + "the end"
    chunk = _chunk(0, looped)
    assert compression_ratio(looped) > 2.4
    (segment,) = guard_segments(chunk)
    assert [w.text for w in segment.words] == [
        "so",
        "we",
        "go",
        "and",
        "then",
        "and",
        "then",
        "the",
        "end",
    ]


def test_collapse_loops_keeps_honest_repeats() -> None:
    words = _words("no no I said it twice twice")
    assert collapse_loops(words) == list(words)


def test_assembly_orders_segments_and_settles_language() -> None:
    chunks = [_chunk(1, "second part here"), _chunk(0, "first part here")]
    transcript = assemble_transcript("v", 60.0, chunks, model="m")
    assert [w.text for w in transcript.words] == ["first", "part", "here", "second", "part", "here"]
    assert transcript.language == "en"
    assert transcript.model == "m"
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts)


def test_requested_language_wins_and_translation_is_english() -> None:
    chunks = [_chunk(0, "hallo welt", "de")]
    assert assemble_transcript("v", 9.0, chunks, language="nl").language == "nl"
    assert assemble_transcript("v", 9.0, chunks, task="translate").language == "en"


def test_no_speech_gives_an_empty_transcript() -> None:
    transcript = assemble_transcript("v", 12.0, [])
    assert transcript.segments == ()
    assert np.isclose(transcript.duration_s, 12.0)
