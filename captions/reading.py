"""Caption files people bring (WebVTT or SubRip, told apart by their content), read strictly.

`read_caption_file` checks a file line by line, so every problem names its line, then reads its
cues with webvtt-py (which reads both formats) and checks their times against the media. The
cues come out as `Cue`s with their text as a viewer reads it (cue tags dropped, character
references decoded), ready for our own writers. Pure logic, no Beam.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from captions.cues import Cue
from captions.markup import CueText, has_markup, parse_cue_text, parse_tagged, visible_lines

MEDIA_END_TOLERANCE_S: Final = 1.0  # a cue may end this long after the media (rounding, fades)

_VTT_TIME: Final = r"(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})"
_SRT_TIME: Final = r"(\d{1,}):([0-5]?\d):([0-5]?\d)[,.](\d{3})"
_VTT_TIMING_RE: Final = re.compile(rf"^{_VTT_TIME}[ \t]+-->[ \t]+{_VTT_TIME}(?:[ \t]+\S.*)?$")
_SRT_TIMING_RE: Final = re.compile(rf"^[ \t]*{_SRT_TIME}[ \t]*-->[ \t]*{_SRT_TIME}[ \t]*$")
_LINE_BREAK_RE: Final = re.compile(r"\r\n|\r|\n")
# SubRip has no escaping: only its formatting tags are markup; any other "<...>" is text.
_SRT_TAG_RE: Final = re.compile(r"</?(?:b|i|u|s)>|<font(?:\s[^>\n]*)?>|</font>", re.IGNORECASE)
_SRT_KEPT: Final = ("<b>", "</b>", "<i>", "</i>", "<u>", "</u>")  # WebVTT has no <s>, <font>


class CaptionFileError(ValueError):
    """A caption file that cannot be taken: the line (1-based) and what is wrong there."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class _Timed:
    line: int  # of the cue's timing line
    start_ms: int
    end_ms: int


def read_caption_file(data: bytes, *, media_end: float | None = None) -> list[Cue]:
    """The cues of a WebVTT or SubRip file, in order; `CaptionFileError` naming the line of the
    first problem: not UTF-8, neither format, a malformed block or time, a cue that ends before
    it starts or starts before the one before it, or (given `media_end`, seconds) one that ends
    more than `MEDIA_END_TOLERANCE_S` after the media."""
    lines = _LINE_BREAK_RE.split(_decode(data))
    kind = _format_of(lines)
    timed = list(_checked_vtt(lines) if kind == "vtt" else _checked_srt(lines))
    text = "\n".join(lines)
    try:
        if kind == "vtt":
            captions = webvtt.from_string(text, strict=True).captions
        else:
            captions = webvtt.from_buffer(lines, format="srt").captions
    except (MalformedFileError, MalformedCaptionError, ValueError) as exc:
        raise CaptionFileError(1, f"not a readable {kind.upper()} file: {exc}") from None
    cues = []
    for k, caption in enumerate(captions):
        times = (caption.start_time.in_milliseconds(), caption.end_time.in_milliseconds())
        if k >= len(timed) or (timed[k].start_ms, timed[k].end_ms) != times:
            line = timed[k].line if k < len(timed) else len(lines)
            raise CaptionFileError(line, "this cue could not be read as written")
        cue_text = _cue_text(caption.raw_text, kind)
        markup = cue_text if has_markup(cue_text) else None
        cues.append(Cue(times[0] / 1000, times[1] / 1000, visible_lines(cue_text), (), markup))
    if len(captions) != len(timed):
        raise CaptionFileError(timed[len(captions)].line, "this cue could not be read")
    _check_times(timed, media_end)
    return cues


def _decode(data: bytes) -> str:
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CaptionFileError(line, f"not UTF-8 text (byte {exc.start})") from None
    if "\x00" in text:
        raise CaptionFileError(text[: text.index("\x00")].count("\n") + 1, "a NUL character")
    return text


def _format_of(lines: Sequence[str]) -> Literal["vtt", "srt"]:
    first = lines[0] if lines else ""
    if first.startswith("WEBVTT") and (len(first) == 6 or first[6] in " \t"):
        return "vtt"
    filled = [(k, line) for k, line in enumerate(lines) if line.strip()]
    if filled and filled[0][1].strip().isdigit():
        return "srt"
    raise CaptionFileError(
        1,
        "neither WebVTT (the first line must be WEBVTT) nor SubRip (a cue number, then its "
        "times: 00:00:01,000 --> 00:00:02,500)",
    )


def _blocks(lines: Sequence[str], blank: str) -> Iterator[tuple[int, list[str]]]:
    """(1-based number of the first line, lines) of each block; blocks end at blank lines
    (`blank` "empty": only empty lines, as WebVTT says; "space": whitespace-only ones too)."""
    block: list[str] = []
    first = 0
    for number, line in enumerate(lines, start=1):
        if (line == "") if blank == "empty" else (line.strip() == ""):
            if block:
                yield first, block
            block = []
        else:
            if not block:
                first = number
            block.append(line)
    if block:
        yield first, block


def _checked_vtt(lines: Sequence[str]) -> Iterator[_Timed]:
    seen_cue = False
    for k, (first, block) in enumerate(_blocks(lines, "empty")):
        if k == 0:  # the header: WEBVTT and its metadata lines
            if any("-->" in line for line in block):
                raise CaptionFileError(first + 1, "the header must end with an empty line")
            continue
        head = block[0]
        if head == "NOTE" or head.startswith(("NOTE ", "NOTE\t")):
            if any("-->" in line for line in block):
                raise CaptionFileError(first, "a NOTE must not contain -->")
            continue
        if head in ("STYLE", "REGION") or head.startswith(("STYLE ", "REGION ")):
            if seen_cue:
                raise CaptionFileError(first, f"a {head.split()[0]} block after the first cue")
            continue
        timing = 0 if "-->" in head else 1
        if timing >= len(block) or "-->" not in block[timing]:
            raise CaptionFileError(first, "a block without cue times (start --> end)")
        number = first + timing
        match = _VTT_TIMING_RE.match(block[timing])
        if match is None:
            raise CaptionFileError(
                number,
                f"bad cue times {block[timing][:80]!r} (expected 00:01:02.500 --> 00:01:04.000)",
            )
        for offset, line in enumerate(block[timing + 1 :], start=timing + 1):
            if "-->" in line:
                raise CaptionFileError(first + offset, "cue text must not contain -->")
        seen_cue = True
        yield _Timed(number, _ms(match.groups()[:4]), _ms(match.groups()[4:]))


def _checked_srt(lines: Sequence[str]) -> Iterator[_Timed]:
    for first, block in _blocks(lines, "space"):
        if not block[0].strip().isdigit():
            raise CaptionFileError(first, "expected a cue number, then the cue's times")
        if len(block) < 2:
            raise CaptionFileError(first, "a cue number without times")
        match = _SRT_TIMING_RE.match(block[1])
        if match is None:
            raise CaptionFileError(
                first + 1,
                f"bad cue times {block[1][:80]!r} (expected 00:01:02,500 --> 00:01:04,000)",
            )
        yield _Timed(first + 1, _ms(match.groups()[:4]), _ms(match.groups()[4:]))


def _ms(parts: Sequence[str | None]) -> int:
    hours, minutes, seconds, millis = (int(p) if p else 0 for p in parts)
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis


def _check_times(timed: Sequence[_Timed], media_end: float | None) -> None:
    previous_start = -1
    for cue in timed:
        if cue.end_ms <= cue.start_ms:
            raise CaptionFileError(cue.line, "the cue ends before it starts (or when it starts)")
        if cue.start_ms < previous_start:
            raise CaptionFileError(cue.line, "the cue starts before the one before it")
        previous_start = cue.start_ms
        if media_end is not None and cue.end_ms / 1000 > media_end + MEDIA_END_TOLERANCE_S:
            raise CaptionFileError(
                cue.line,
                f"the cue ends at {cue.end_ms / 1000:.3f} s, after the end of the media "
                f"({media_end:.3f} s, plus {MEDIA_END_TOLERANCE_S:g} s)",
            )


def _cue_text(raw: str, kind: str) -> CueText:
    """A cue's text as a viewer reads it, with its markup: WebVTT's by the WebVTT parsing rules
    (unknown tags dropped, character references decoded); SubRip's `<i>`, `<b>`, `<u>` kept,
    its `<s>` and `<font>` dropped, every other character as written."""
    if kind == "vtt":
        return parse_cue_text(raw)
    return parse_tagged(
        raw, _SRT_TAG_RE, lambda tag: tag.lower() if tag.lower() in _SRT_KEPT else ""
    )
