"""Caption track formats: cues to WebVTT and SubRip text, a transcript to JSON. Pure, no Beam.

Times are cut down to whole milliseconds, the same way for every time, so a cut never makes a
cue end before it starts or overlap the next one.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from schemas.events import TrackRef
from schemas.transcript import Transcript
from schemas.updates import CaptionsUpdated
from transforms.cues import Cue
from transforms.languages import RIGHT_TO_LEFT

RLM = "\u200f"

_META_RE: Final = re.compile(
    r"^NOTE autocaption revision=(\d{1,9}) generated=(true|false) kind=(captions|subtitles) "
    r"updated_at=(\S{1,40})\n\n?",
    re.MULTILINE,
)


@dataclass(frozen=True)
class TrackMeta:
    """What a stored track says of itself: its revision, whether a model or a person made it,
    its kind and when it was made. Written into the WebVTT file as a NOTE block (a comment that
    players skip), so it changes in the same write as the cues it describes."""

    revision: int
    generated: bool
    kind: Literal["captions", "subtitles"]
    updated_at: str

    def note(self) -> str:
        generated = "true" if self.generated else "false"
        return (
            f"NOTE autocaption revision={self.revision} generated={generated} "
            f"kind={self.kind} updated_at={self.updated_at}\n"
        )


@dataclass(frozen=True)
class TrackChange:
    """What one change did to a stored track (what a `captions.updated` event tells)."""

    language: str
    change: Literal["replaced", "deleted", "generated"]
    meta: TrackMeta  # the revision made (or, for a deletion, the one taken out of service)
    current: bool  # whether that revision is now the one served
    etag: str | None = None  # the served .vtt's new ETag, when it changed

    def event(self, video_id: str, tracks: Sequence[TrackRef]) -> CaptionsUpdated:
        """The `captions.updated` event of this change; `tracks`: the files it touched."""
        return CaptionsUpdated.for_change(
            video_id,
            self.language,
            kind=self.meta.kind,
            revision=self.meta.revision,
            generated=self.meta.generated,
            current=self.current,
            change=self.change,
            tracks=tracks,
        )


def read_track_meta(vtt: str) -> TrackMeta | None:
    """The `TrackMeta` a stored WebVTT track carries; None for one without (older tracks)."""
    match = _META_RE.search(vtt, 0, 2048)
    if match is None:
        return None
    revision, generated, kind, updated_at = match.groups()
    return TrackMeta(int(revision), generated == "true", kind, updated_at)  # type: ignore[arg-type]


def with_meta(vtt: str, meta: TrackMeta) -> str:
    """A WebVTT track with `meta` as its NOTE (after the header), in place of any it had."""
    vtt = without_meta(vtt)
    header, blank, rest = vtt.partition("\n\n")
    return f"{header}\n\n{meta.note()}\n{rest}" if blank else f"{vtt.rstrip()}\n\n{meta.note()}"


def without_meta(vtt: str) -> str:
    """The track's text without its `TrackMeta` NOTE: what two revisions compare by."""
    return _META_RE.sub("", vtt, count=1)


# A writer turns the cues and the transcript of one video into the text of one track.
TrackWriter = Callable[[Sequence[Cue], Transcript], str]


def write_vtt(
    cues: Sequence[Cue], language: str | None = None, meta: TrackMeta | None = None
) -> str:
    """A WebVTT file: the header (with a `Language:` line if given), the `meta` NOTE if given,
    then one block per cue.

    `&`, `<` and `>` in the text are escaped, so words like "R&D" or "-->" cannot break the file.
    Lines of a right-to-left language start with a right-to-left mark (see `_shown`).
    """
    language = " ".join((language or "").split())  # one line, whatever the caller passed
    header = "WEBVTT\n" + (f"Language: {language}\n" if language else "")
    blocks = [
        f"{vtt_timestamp(cue.start)} --> {vtt_timestamp(cue.end)}\n"
        + "\n".join(map(_escape, lines))
        for cue, lines in _shown(cues, language)
    ]
    notes = [meta.note()] if meta is not None else []
    return "\n".join([header, *notes, *(block + "\n" for block in blocks)])


def write_srt(cues: Sequence[Cue], language: str | None = None) -> str:
    """A SubRip file: cues numbered from 1, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, a blank line after."""
    return "".join(
        f"{number}\n{srt_timestamp(cue.start)} --> {srt_timestamp(cue.end)}\n"
        + "".join(line + "\n" for line in lines)
        + "\n"
        for number, (cue, lines) in enumerate(_shown(cues, language), start=1)
    )


def write_transcript_json(transcript: Transcript) -> str:
    """`transcript.json`: the transcript's dict as UTF-8 JSON text, one line.

    A time the model never gave (NaN, infinity) is written as null, so the file stays valid JSON.
    """
    return json.dumps(_finite_or_null(transcript.to_dict()), ensure_ascii=False, allow_nan=False)


def _write_vtt_track(cues: Sequence[Cue], transcript: Transcript) -> str:
    return write_vtt(cues, transcript.language or None)


def _write_srt_track(cues: Sequence[Cue], transcript: Transcript) -> str:
    return write_srt(cues, transcript.language or None)


def _write_json_track(cues: Sequence[Cue], transcript: Transcript) -> str:
    return write_transcript_json(transcript)


# Format name (also the file extension) -> its writer.
TRACK_WRITERS: dict[str, TrackWriter] = {
    "vtt": _write_vtt_track,
    "srt": _write_srt_track,
    "json": _write_json_track,
}


def vtt_timestamp(seconds: float) -> str:
    """`HH:MM:SS.mmm`; hours take as many digits as they need (at least two)."""
    return _timestamp(seconds, ".")


def srt_timestamp(seconds: float) -> str:
    """`HH:MM:SS,mmm`; hours take as many digits as they need (at least two)."""
    return _timestamp(seconds, ",")


def _timestamp(seconds: float, separator: str) -> str:
    if not math.isfinite(seconds):
        raise ValueError(f"a cue time must be finite, got {seconds}")
    # cut down, not round: a monotone cut keeps start <= end and the order of cues;
    # the nanosecond nudge keeps 1.001 (stored as 1.000999...) at 1001 ms
    ms = max(0, math.floor(seconds * 1000 + 1e-6))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def _shown(cues: Sequence[Cue], language: str | None = None) -> list[tuple[Cue, list[str]]]:
    """Each cue with its non-empty lines, whitespace made single spaces; cues without text go.

    An empty line would end a cue block in both formats, so none is ever written. In a
    right-to-left language each line starts with U+200F (RIGHT-TO-LEFT MARK): players take a
    line's direction from its first strong character, so a line opening with a number or a
    Latin name would otherwise be laid out left to right.
    """
    mark = RLM if (language or "").lower() in RIGHT_TO_LEFT else ""
    shown = []
    for cue in cues:
        lines = [" ".join(line.split()) for line in cue.lines]
        lines = [mark + line for line in lines if line]
        if lines:
            shown.append((cue, lines))
    return shown


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _finite_or_null(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(item) for item in value]
    return value
