"""IMSC 1.1 Text Profile (TTML), the timed text that broadcasters and streaming services take for
delivery (W3C "IMSC Text Profile 1.1"; the Netflix Timed Text Style Guide asks for it).

One `<p>` a cue, timed in media time (`begin`/`end` as clock times, cut to the millisecond as
in every format), its lines split by `<br/>`, in one region across the bottom of the picture.
The document's language is `xml:lang`; a right-to-left language sets `tts:direction="rtl"` with
`tts:unicodeBidi="embed"` on each paragraph. A person's markup becomes TTML styles: italics
`tts:fontStyle="italic"`, bold `tts:fontWeight="bold"`, underline
`tts:textDecoration="underline"`, a `<lang>` span `xml:lang`, ruby IMSC's `tts:ruby` spans, and
a voice (`<v Name>`) a `ttm:agent` declared in the head with its name. Classes have no TTML
counterpart and are dropped. The XML is built with ElementTree, so text is always escaped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Final

from captions.cues import Cue
from captions.formats.shown import clock_time, shown_cues
from captions.markup import Run, Span, ruby_pairs
from captions.rules import is_right_to_left

TT: Final = "http://www.w3.org/ns/ttml"
TTP: Final = "http://www.w3.org/ns/ttml#parameter"
TTS: Final = "http://www.w3.org/ns/ttml#styling"
TTM: Final = "http://www.w3.org/ns/ttml#metadata"
XML: Final = "http://www.w3.org/XML/1998/namespace"
IMSC_1_1_TEXT: Final = "http://www.w3.org/ns/ttml/profile/imsc1.1/text"
_STYLES: Final = {
    "i": (f"{{{TTS}}}fontStyle", "italic"),
    "b": (f"{{{TTS}}}fontWeight", "bold"),
    "u": (f"{{{TTS}}}textDecoration", "underline"),
}

for _prefix, _uri in (("", TT), ("ttp", TTP), ("tts", TTS), ("ttm", TTM)):
    ET.register_namespace(_prefix, _uri)


def write_ttml(cues: Sequence[Cue], language: str | None = None) -> str:
    """An IMSC 1.1 Text Profile document of the cues, in `language` (`xml:lang`; empty:
    unknown)."""
    root = ET.Element(
        f"{{{TT}}}tt",
        {
            f"{{{TTP}}}contentProfiles": IMSC_1_1_TEXT,
            f"{{{TTP}}}timeBase": "media",
            f"{{{XML}}}lang": language or "",
        },
    )
    head = ET.SubElement(root, f"{{{TT}}}head")
    styling = ET.SubElement(head, f"{{{TT}}}styling")
    ET.SubElement(
        styling,
        f"{{{TT}}}style",
        {
            f"{{{XML}}}id": "caption",
            f"{{{TTS}}}fontFamily": "proportionalSansSerif",
            f"{{{TTS}}}color": "white",
            f"{{{TTS}}}backgroundColor": "rgba(0,0,0,204)",
            f"{{{TTS}}}textAlign": "center",
        },
    )
    layout = ET.SubElement(head, f"{{{TT}}}layout")
    ET.SubElement(
        layout,
        f"{{{TT}}}region",
        {
            f"{{{XML}}}id": "bottom",
            f"{{{TTS}}}origin": "10% 10%",
            f"{{{TTS}}}extent": "80% 80%",
            f"{{{TTS}}}displayAlign": "after",
        },
    )
    body = ET.SubElement(root, f"{{{TT}}}body", {"region": "bottom", "style": "caption"})
    div = ET.SubElement(body, f"{{{TT}}}div")
    agents = _Agents(head)
    direction = (
        {f"{{{TTS}}}direction": "rtl", f"{{{TTS}}}unicodeBidi": "embed"}
        if is_right_to_left(language)
        else {}
    )
    for cue, text in shown_cues(cues):
        p = ET.SubElement(
            div,
            f"{{{TT}}}p",
            {"begin": clock_time(cue.start), "end": clock_time(cue.end), **direction},
        )
        for k, line in enumerate(text):
            if k:
                ET.SubElement(p, f"{{{TT}}}br")
            _add_runs(p, line, agents)
    _indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_track(cues: Sequence[Cue], language: str) -> str:
    return write_ttml(cues, language)


def _indent(element: ET.Element, level: int = 0) -> None:
    """Lines and indentation between the document's elements, never inside a `<p>`, where
    white space would be text."""
    if element.tag == f"{{{TT}}}p" or not len(element):
        return
    inner = "\n" + "  " * (level + 1)
    element.text = inner
    for child in element:
        child.tail = inner
        _indent(child, level + 1)
    element[-1].tail = "\n" + "  " * level


class _Agents:
    """The `ttm:agent` of each voice, declared once in the head's metadata."""

    def __init__(self, head: ET.Element) -> None:
        self.head = head
        self.metadata: ET.Element | None = None
        self.ids: dict[str, str] = {}

    def id_of(self, name: str) -> str:
        if name not in self.ids:
            if self.metadata is None:
                self.metadata = ET.Element(f"{{{TT}}}metadata")
                self.head.insert(0, self.metadata)
            agent_id = f"voice{len(self.ids) + 1}"
            agent = ET.SubElement(
                self.metadata, f"{{{TTM}}}agent", {f"{{{XML}}}id": agent_id, "type": "person"}
            )
            ET.SubElement(agent, f"{{{TTM}}}name", {"type": "full"}).text = name
            self.ids[name] = agent_id
        return self.ids[name]


def _add_runs(parent: ET.Element, runs: Sequence[Run], agents: _Agents) -> None:
    """The runs of one line as spans of `parent`; a `<ruby>` span's runs as IMSC ruby."""
    k = 0
    while k < len(runs):
        ruby = next((s for s in runs[k].spans if s.tag == "ruby"), None)
        if ruby is None:
            _append_span(parent, runs[k], agents)
            k += 1
            continue
        end = k
        while end < len(runs) and ruby in runs[end].spans:
            end += 1
        outer = Run("", runs[k].spans[: runs[k].spans.index(ruby)])
        for base, annotation in ruby_pairs(runs[k:end], ruby):
            if not annotation:  # a base without ruby text: just text
                for run in base:
                    _append_span(parent, Run(run.text, outer.spans + run.spans), agents)
                continue
            container = _styled(parent, outer.spans, agents, {f"{{{TTS}}}ruby": "container"})
            for role, part in (("base", base), ("text", annotation)):
                holder = ET.SubElement(container, f"{{{TT}}}span", {f"{{{TTS}}}ruby": role})
                for run in part:
                    _append_span(holder, run, agents)
        k = end


def _append_span(parent: ET.Element, run: Run, agents: _Agents) -> None:
    if run.spans:
        _styled(parent, run.spans, agents).text = run.text
    elif len(parent) == 0:
        parent.text = (parent.text or "") + run.text
    else:
        parent[-1].tail = (parent[-1].tail or "") + run.text


def _styled(
    parent: ET.Element,
    spans: Sequence[Span],
    agents: _Agents,
    extra: dict[str, str] | None = None,
) -> ET.Element:
    """A `<span>` under `parent` with the TTML styles of `spans` (and `extra` attributes)."""
    attributes = dict(extra or {})
    for span in spans:
        if span.tag in _STYLES:
            name, value = _STYLES[span.tag]
            attributes[name] = value
        elif span.tag == "v" and span.annotation:
            attributes[f"{{{TTM}}}agent"] = agents.id_of(span.annotation)
        elif span.tag == "lang" and span.annotation:
            attributes[f"{{{XML}}}lang"] = span.annotation
    return ET.SubElement(parent, f"{{{TT}}}span", attributes)
