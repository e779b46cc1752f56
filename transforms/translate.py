"""`TranslateVideos`: subtitles in other languages, between assembling and writing.

    [VideoTranscripts | VideoFailed, ...] (a batch of videos, `beam.BatchElements`)
        -> each video with its `TranslatedTrack`s

For each target an upload asks for, the route (`connectors.translators.routes`) says what
makes it: Whisper's own translation (already a transcript: written as it is), a text
translator, or both through English. The sentences of every video of the batch go to each
translator together (`library.translations`), whose models are loaded once per worker. A
target that cannot be made fails alone (`TranslatedTrack.error`); the video is still ready.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace

import apache_beam as beam
from apache_beam.metrics import Metrics

from captions.translation import glossary_terms, sentences_of
from connectors.translators import TranslatorPool, same_language
from connectors.translators.routes import route_for
from library.translations import TranslationRequest, lay_out, translate_requests
from schemas.errors import ErrorCode
from schemas.events import ErrorDetail
from schemas.transcript import Transcript
from transforms.domain import (
    TranslatedTrack,
    VideoFailed,
    VideoTranscripts,
    targets_of,
    vocabulary_for,
)
from transforms.settings import CaptionOptions

log = logging.getLogger(__name__)

Element = VideoTranscripts | VideoFailed


class TranslateVideos(beam.DoFn):
    """A batch of videos in; each video out, with its translations."""

    def __init__(self, options: CaptionOptions) -> None:
        self.options = options
        self.made = Metrics.counter("autocaption", "translations_made")
        self.failed = Metrics.counter("autocaption", "translations_failed")
        self.seconds = Metrics.distribution("autocaption", "translate_batch_ms")

    def setup(self) -> None:
        self.pool = TranslatorPool(self.options.translators)

    def process(self, batch: Sequence[Element]) -> Iterator[Element]:
        started = time.monotonic()
        try:
            done = translate_videos(batch, self.pool, self.options)
        except Exception:  # a bug here must not lose the videos: they go on untranslated
            log.exception("translating a batch of %d videos failed", len(batch))
            done = [_all_failed(e, self.options) for e in batch]
        self.seconds.update(int((time.monotonic() - started) * 1000))
        for element in done:
            if isinstance(element, VideoTranscripts):
                self.failed.inc(sum(t.error is not None for t in element.translations))
                self.made.inc(sum(t.error is None for t in element.translations))
            yield element


def translate_videos(
    batch: Sequence[Element], pool: TranslatorPool, options: CaptionOptions
) -> list[Element]:
    """The videos of `batch` with their translations (see the module docstring)."""
    requests: list[TranslationRequest] = []
    owners: list[int] = []
    tracks: dict[int, list[TranslatedTrack]] = {}
    for v, element in enumerate(batch):
        if not isinstance(element, VideoTranscripts):
            continue
        tracks[v] = []
        spoken = element.transcripts[0]
        if not spoken.words:
            continue  # no speech: nothing to translate (the captions are empty too)
        english = next((t for t in element.transcripts[1:] if t.task == "translate"), None)
        terms = glossary_terms(vocabulary_for(element.request, options)[0])
        for target in targets_of(element.request, options):
            if same_language(spoken.language, target):
                continue  # the captions themselves
            route = route_for(
                spoken.language, target, options.translators, whisper_english=english is not None
            )
            if route is None:
                message = f"no configured translator makes {spoken.language}->{target}"
                if english is None and route_for(
                    spoken.language, target, options.translators, whisper_english=True
                ):
                    message += (
                        f"; name the spoken language (language={spoken.language}) to translate "
                        "through Whisper's English"
                    )
                error = ErrorDetail(ErrorCode.UNSUPPORTED_PAIR, message)
                tracks[v].append(TranslatedTrack(target, error=error))
                continue
            if not route.legs:
                continue  # Whisper's translation is the track; written as a transcript
            source: Transcript = english if route.from_whisper and english else spoken
            sentences = tuple(sentences_of(source.words))
            requests.append(TranslationRequest(target, route, sentences, terms))
            owners.append(v)
    for v, translated in zip(owners, translate_requests(requests, pool), strict=True):
        route = translated.request.route
        element = batch[v]
        assert isinstance(element, VideoTranscripts)
        if translated.error is not None:
            track = TranslatedTrack(translated.request.target, error=translated.error)
        else:
            cues = lay_out(translated, options.rules, element.duration_s)
            track = TranslatedTrack(translated.request.target, cues, route.translator, route.pivot)
        tracks[v].append(track)
    out: list[Element] = []
    for v, element in enumerate(batch):
        if isinstance(element, VideoTranscripts):
            element = replace(element, translations=tuple(tracks[v]))
        out.append(element)
    return out


def _all_failed(element: Element, options: CaptionOptions) -> Element:
    if not isinstance(element, VideoTranscripts):
        return element
    spoken = element.transcripts[0].language
    error = ErrorDetail(ErrorCode.TRANSLATION_FAILED, "the translate step failed; see the logs")
    failed = tuple(
        TranslatedTrack(target, error=error)
        for target in targets_of(element.request, options)
        if not same_language(spoken, target) and target.split("-")[0] != "en"
    )
    return replace(element, translations=failed)
