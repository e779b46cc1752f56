"""The transcript of one video: segments and words with absolute times in seconds.

This is the content of `transcript.json` and what cue layout consumes. Words keep the spacing
the model gave them: `space_before` is False where Whisper wrote a word straight after the one
before it ("m" + "'appelle", every Japanese or Chinese word), so `join_words` spells the text
exactly as the model did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Word:
    """One spoken word with its times; `text` has no surrounding whitespace.

    `space_before`: whether the model put a space between this word and the one before it.
    """

    text: str
    start: float
    end: float
    probability: float = 1.0
    speaker: str | None = None  # kept through the model so diarization can fill it later
    space_before: bool = True

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "text": self.text,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "probability": round(self.probability, 4),
        }
        if not self.space_before:  # written only when false: most words have a space before
            out["space_before"] = False
        if self.speaker is not None:
            out["speaker"] = self.speaker
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Word:
        return cls(
            d["text"],
            float(d["start"]),
            float(d["end"]),
            float(d.get("probability", 1.0)),
            d.get("speaker"),
            bool(d.get("space_before", True)),
        )


def join_words(words: Sequence[Word]) -> str:
    """The words as one text, spaced as the model spaced them (no space before the first)."""
    parts: list[str] = []
    for word in words:
        if parts and word.space_before:
            parts.append(" ")
        parts.append(word.text)
    return "".join(parts)


@dataclass(frozen=True)
class Segment:
    """A run of words Whisper produced as one segment."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    language: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "text": self.text,
            "language": self.language,
            "words": [w.to_dict() for w in self.words],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Segment:
        return cls(
            float(d["start"]),
            float(d["end"]),
            d["text"],
            tuple(Word.from_dict(w) for w in d.get("words", [])),
            d.get("language"),
        )


@dataclass(frozen=True)
class Transcript:
    """Everything said in one video, in time order."""

    video_id: str
    language: str
    duration_s: float
    segments: tuple[Segment, ...] = ()
    task: str = "transcribe"
    model: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]

    def to_dict(self) -> dict[str, Any]:
        return {
            "video_id": self.video_id,
            "language": self.language,
            "task": self.task,
            "duration_s": round(self.duration_s, 3),
            "model": self.model,
            "segments": [s.to_dict() for s in self.segments],
            **self.extra,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transcript:
        return cls(
            d["video_id"],
            d["language"],
            float(d["duration_s"]),
            tuple(Segment.from_dict(s) for s in d.get("segments", [])),
            d.get("task", "transcribe"),
            d.get("model", ""),
        )
