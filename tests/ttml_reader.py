"""TTML tracks read back by ttconv (the timed-text converter behind the IMSC conformance work),
so a track that ttconv cannot parse, or parses to other times, text, lines, language or
direction than the WebVTT track of the same cues, fails the test that made it."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field

import ttconv.model as model
from ttconv.imsc import reader
from ttconv.style_properties import DirectionType, FontStyleType, FontWeightType, StyleProperties

from captions.markup import RLM
from captions.reading import read_caption_file
from captions.rules import is_right_to_left


@dataclass
class TtmlCue:
    start: float
    end: float
    lines: list[str]
    direction: str  # "ltr" or "rtl"
    styled: dict[str, set[str]] = field(default_factory=dict)  # "italic", "bold", ... -> texts
    languages: set[str] = field(default_factory=set)  # xml:lang of its spans


@dataclass
class TtmlTrack:
    language: str
    cues: list[TtmlCue]
    warnings: list[str]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def read_ttml(text: str) -> TtmlTrack:
    """The track as ttconv reads it; raises when ttconv cannot."""
    collect = _Collect()
    logging.getLogger().addHandler(collect)
    try:
        document = reader.to_model(ET.ElementTree(ET.fromstring(text.encode("utf-8"))))
    finally:
        logging.getLogger().removeHandler(collect)
    assert document is not None, "ttconv read no document"
    cues = [_cue(p) for p in _paragraphs(document.get_body())]
    return TtmlTrack(document.get_lang(), cues, collect.messages)


def assert_ttml_matches_vtt(ttml: str, vtt: str, language: str) -> TtmlTrack:
    """ttconv reads `ttml` without a warning, in `language`, with the times and lines of the
    WebVTT track `vtt` (the same cues), and right to left where the language is."""
    track = read_ttml(ttml)
    assert track.warnings == [], track.warnings
    assert track.language == language
    expected = read_caption_file(vtt.encode("utf-8"))
    got = [
        (round(c.start, 3), round(c.end, 3), [line.lstrip("\u200f") for line in c.lines])
        for c in track.cues
    ]
    want = [
        (round(c.start, 3), round(c.end, 3), [line.lstrip("\u200f") for line in c.lines])
        for c in expected
    ]
    assert got == want
    rtl = is_right_to_left(language)
    assert {c.direction for c in track.cues} <= {"rtl" if rtl else "ltr"}
    return track


def _seen(start: float, end: float, lines: list[str] | tuple[str, ...]) -> tuple[object, ...]:
    """A cue as a viewer sees it (the right-to-left marks of WebVTT lines are not text)."""
    return round(start, 3), round(end, 3), [line.lstrip(RLM) for line in lines]


def _paragraphs(element: model.ContentElement | None) -> Iterator[model.P]:
    if element is None:
        return
    for child in element:
        if isinstance(child, model.P):
            yield child
        else:
            yield from _paragraphs(child)


def _cue(p: model.P) -> TtmlCue:
    direction = p.get_style(StyleProperties.Direction)
    cue = TtmlCue(
        float(p.get_begin() or 0),
        float(p.get_end() or 0),
        [""],
        "rtl" if direction == DirectionType.rtl else "ltr",
    )
    _texts(p, cue, {}, in_ruby_text=False)
    cue.lines = [" ".join(line.split()) for line in cue.lines]
    return cue


def _texts(
    element: model.ContentElement, cue: TtmlCue, styles: dict[str, bool], in_ruby_text: bool
) -> None:
    for child in element:
        if isinstance(child, model.Br):
            cue.lines.append("")
        elif isinstance(child, model.Text):
            if not in_ruby_text:
                cue.lines[-1] += child.get_text()
            for name, on in styles.items():
                if on:
                    cue.styled.setdefault(name, set()).add(child.get_text())
        else:
            here = dict(styles)
            if child.get_style(StyleProperties.FontStyle) == FontStyleType.italic:
                here["italic"] = True
            if child.get_style(StyleProperties.FontWeight) == FontWeightType.bold:
                here["bold"] = True
            decoration = child.get_style(StyleProperties.TextDecoration)
            if decoration is not None and decoration.underline:
                here["underline"] = True
            if isinstance(child, model.Span) and child.get_lang():
                cue.languages.add(child.get_lang())
            _texts(child, cue, here, in_ruby_text or isinstance(child, model.Rt))
