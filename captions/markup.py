"""A cue's markup: WebVTT's cue spans (italics, bold, underline, voices, languages, classes,
ruby) as a person wrote them, read by the WebVTT cue text parsing rules and written in every
format that can carry them. Pure logic, no Beam.

A cue's text is held as lines of `Run`s: a run is text with the spans around it, outermost
first. Flat runs make the formats simple to write (SubRip keeps `<i>`, `<b>`, `<u>`; TTML turns
each run into a `<span>` with its styles) and make whitespace easy to tidy across spans.

Reading follows the WebVTT recommendation (section 6.4, "WebVTT cue text parsing rules"): the
tags `<i>`, `<b>`, `<u>`, `<v>`, `<lang>`, `<c>`, `<ruby>` and `<rt>` are kept with their classes
and annotation (a voice's name, a language); any other tag is dropped and its text kept;
timestamp tags (karaoke) are dropped; character references (`&amp;`, `&lt;`, `&nbsp;`, ...)
become the characters they name. Markup is data here: nothing is ever rendered as HTML.

The editor's notation (`notation`) is the cue text with these tags written as tags and every
other character as itself: what a person types, `<i>Off screen</i> R&D`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final

KNOWN_TAGS: Final = ("i", "b", "u", "v", "lang", "c", "ruby", "rt")
RLM: Final = "\u200f"

# A tag: "<" up to ">" (or the end of the text, as WebVTT's tokenizer reads it); else text.
_TOKEN_RE: Final = re.compile(r"<([^>]*)(?:>|$)|([^<]+)")
_TIMESTAMP_RE: Final = re.compile(r"\d")
_SPACES_RE: Final = re.compile(r"[ \t\f\r]+")
# A known tag as the editor's notation writes it: <i>, <c.loud>, <v Roger Bingham>, </v>. The
# editor (gateway/static/markup.js) reads it with the same pattern.
NOTATION_TAG_RE: Final = re.compile(
    r"</?(?:" + "|".join(KNOWN_TAGS) + r")(?:\.[^\s.<>&/]+)*(?:[ \t]+[^<>\n]*)?>"
)


@dataclass(frozen=True)
class Span:
    """One element of cue markup: its tag, its classes and its annotation (a `v` span's voice,
    a `lang` span's language). `element` tells two neighbouring spans of one kind apart."""

    tag: str
    classes: tuple[str, ...] = ()
    annotation: str = ""
    element: int = 0

    def start_tag(self, escape: Callable[[str], str]) -> str:
        """The span's start tag, `<v.loud Roger Bingham>`, its annotation through `escape`."""
        classes = "".join(f".{c}" for c in self.classes)
        annotation = f" {escape(self.annotation)}" if self.annotation else ""
        return f"<{self.tag}{classes}{annotation}>"


@dataclass(frozen=True)
class Run:
    """Text (no line break in it) with the spans around it, outermost first."""

    text: str
    spans: tuple[Span, ...] = ()

    def has(self, tag: str) -> bool:
        return any(span.tag == tag for span in self.spans)


Line = tuple[Run, ...]
CueText = tuple[Line, ...]


def parse_cue_text(text: str) -> CueText:
    """The lines of a WebVTT cue's text (its payload, lines joined by "\\n"), tidied by
    `tidy`."""
    open_spans: list[Span] = []
    runs: list[Run | None] = []  # None: a line break
    count = 0
    for match in _TOKEN_RE.finditer(text):
        tag, words = match.groups()
        if words is not None:
            for k, part in enumerate(html.unescape(words).split("\n")):
                if k:
                    runs.append(None)
                runs.append(Run(part, tuple(open_spans)))
        elif tag.startswith("/"):
            _close(open_spans, tag[1:].strip())
        elif tag and not _TIMESTAMP_RE.match(tag):
            span = _start_tag(tag, count)
            if span is not None and not (span.tag == "rt" and not _inside(open_spans, "ruby")):
                open_spans.append(span)
                count += 1
    return tidy(_lines(runs))


def parse_notation(text: str) -> CueText:
    """The editor's notation read back: known tags are markup, every other character is text
    (so `<img>` or `&amp;` typed by a person stay those characters)."""
    return parse_tagged(text, NOTATION_TAG_RE)


def parse_tagged(
    text: str, tags: re.Pattern[str], as_tag: Callable[[str], str] = lambda tag: tag
) -> CueText:
    """Text whose markup is only what `tags` finds (each written as WebVTT's `as_tag(tag)`,
    "" to drop it), every other character being text: the editor's notation, SubRip."""
    parts, at = [], 0
    for match in tags.finditer(text):
        parts += [_escape(text[at : match.start()]), as_tag(match.group(0))]
        at = match.end()
    parts.append(_escape(text[at:]))
    return parse_cue_text("".join(parts))


def plain_cue_text(lines: Sequence[str]) -> CueText:
    """Lines of plain text (a model's cue) as cue text without markup."""
    return tidy(tuple((Run(line),) for line in lines))


def tidy(lines: Sequence[Line]) -> CueText:
    """Whitespace as a viewer sees it: runs of spaces made one space (also across spans),
    none at a line's ends; lines with no text dropped (an empty line would end a cue block);
    empty runs dropped."""
    tidied = []
    for line in lines:
        runs: list[Run] = []
        space = True  # at the start of a line, a space is dropped
        for run in line:
            text = _SPACES_RE.sub(" ", run.text.replace("\n", " "))
            if space:
                text = text.lstrip(" ")
            if text and runs and runs[-1].spans == run.spans:
                space = text.endswith(" ")
                runs[-1] = replace(runs[-1], text=runs[-1].text + text)
            elif text:
                space = text.endswith(" ")
                runs.append(replace(run, text=text))
        while runs and runs[-1].text.endswith(" "):
            last = runs.pop()
            if last.text.rstrip(" "):
                runs.append(replace(last, text=last.text.rstrip(" ")))
        if runs:
            tidied.append(tuple(runs))
    return tuple(tidied)


def visible_lines(cue_text: CueText) -> tuple[str, ...]:
    """The text of each line as the caption rules count it: without ruby text (`<rt>`),
    which sits above its base and takes no room on the line."""
    lines = ("".join(run.text for run in line if not run.has("rt")) for line in cue_text)
    return tuple(" ".join(line.split()) for line in lines)


def has_markup(cue_text: CueText) -> bool:
    return any(run.spans for line in cue_text for run in line)


def vtt_text(cue_text: CueText, line_mark: str = "") -> str:
    """WebVTT cue text: `&`, `<` and `>` escaped, the spans as tags (kept open across a line
    break, as the person wrote them); each line starts with `line_mark` (a direction mark)."""
    return _tagged(cue_text, line_mark, KNOWN_TAGS, _escape, full_tags=True)


def srt_text(cue_text: CueText, line_mark: str = "") -> str:
    """SubRip cue text: italics, bold and underline as SubRip's `<i>`, `<b>`, `<u>`; other
    spans (voices, classes) as their text only, ruby text in brackets after its base, as
    SubRip files of Japanese do. SubRip has no escaping."""
    return _tagged(_ruby_in_brackets(cue_text), line_mark, ("i", "b", "u"), _as_is, full_tags=False)


def notation(cue_text: CueText) -> str:
    """The editor's notation: known tags as tags, every other character as itself."""
    return _tagged(cue_text, "", KNOWN_TAGS, _as_is, full_tags=True)


def ruby_pairs(runs: Sequence[Run], ruby: Span) -> list[tuple[list[Run], list[Run]]]:
    """The (base, annotation) pairs of one `<ruby>` span's runs, in order."""
    pairs: list[tuple[list[Run], list[Run]]] = []
    for run in runs:
        inner = tuple(s for s in run.spans if s != ruby)
        in_rt = any(s.tag == "rt" for s in inner)
        if not pairs or (pairs[-1][1] and not in_rt):
            pairs.append(([], []))
        pairs[-1][1 if in_rt else 0].append(Run(run.text, tuple(s for s in inner if s.tag != "rt")))
    return pairs


def _ruby_in_brackets(cue_text: CueText) -> CueText:
    """Each `<rt>` span's text in brackets: 漢(かん)字(じ)."""
    lines = []
    for line in cue_text:
        runs = list(line)
        for k, run in enumerate(runs):
            rt = next((s for s in run.spans if s.tag == "rt"), None)
            if rt is None:
                continue
            first = k == 0 or rt not in runs[k - 1].spans
            last = k + 1 == len(runs) or rt not in runs[k + 1].spans
            runs[k] = replace(run, text=("(" if first else "") + run.text + (")" if last else ""))
        lines.append(tuple(runs))
    return tuple(lines)


# --- reading ---------------------------------------------------------------------------------


def _start_tag(tag: str, element: int) -> Span | None:
    head, _, annotation = tag.replace("\t", " ").replace("\n", " ").partition(" ")
    name, *classes = head.split(".")
    if name not in KNOWN_TAGS:
        return None  # an unknown tag: dropped, its text kept
    annotation = html.unescape(" ".join(annotation.split())) if name in ("v", "lang") else ""
    return Span(name, tuple(c for c in classes if c), annotation, element)


def _close(open_spans: list[Span], name: str) -> None:
    """An end tag closes the innermost span of its name; `</ruby>` also closes an open `<rt>`.
    An end tag with no such span open is ignored, as WebVTT says."""
    for k in range(len(open_spans) - 1, -1, -1):
        if open_spans[k].tag == name:
            del open_spans[k:]
            return


def _inside(open_spans: Sequence[Span], tag: str) -> bool:
    return any(span.tag == tag for span in open_spans)


def _lines(runs: Sequence[Run | None]) -> CueText:
    lines: list[list[Run]] = [[]]
    for run in runs:
        if run is None:
            lines.append([])
        else:
            lines[-1].append(run)
    return tuple(tuple(line) for line in lines)


# --- writing ---------------------------------------------------------------------------------


def _tagged(
    cue_text: CueText,
    line_mark: str,
    kept: Sequence[str],
    escape: Callable[[str], str],
    *,
    full_tags: bool,
) -> str:
    """Cue text with the spans of the `kept` tags written as tags (`full_tags`: with their
    classes and annotation) and the text through `escape`."""
    out: list[str] = []
    open_spans: list[Span] = []
    for k, line in enumerate(cue_text):
        if k:
            out.append("\n")
        if not (line and line[0].text.startswith(line_mark)):  # read back from our own file
            out.append(line_mark)
        for run in line:
            wanted = [span for span in run.spans if span.tag in kept]
            shared = _shared_prefix(open_spans, wanted)
            out += (f"</{span.tag}>" for span in reversed(open_spans[shared:]))
            out += (
                span.start_tag(escape) if full_tags else f"<{span.tag}>" for span in wanted[shared:]
            )
            open_spans = wanted
            out.append(escape(run.text))
    out += (f"</{span.tag}>" for span in reversed(open_spans))
    return "".join(out)


def _shared_prefix(a: Sequence[Span], b: Sequence[Span]) -> int:
    k = 0
    while k < len(a) and k < len(b) and a[k] == b[k]:
        k += 1
    return k


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _as_is(text: str) -> str:
    return text
