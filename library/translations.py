"""Translated tracks: whole sentences through the configured translators, kept in sync.

    TranslationRequest(target, route, sentences, terms)   many videos' at once
      -> translate_requests: one model call per translator and pair, through English if the
         route says so, the vocabulary kept as written
      -> lay_out: cues inside each source sentence's span, under the target's caption rules

The pipeline's translate step (`transforms.translate`) calls it for new uploads; the gateway
calls `follow_correction` when a person saves a revision of a source track: every translation a
model made from it is made again from the corrected text, and one a person edited is left as
it is (the list then shows it `stale`: its source moved on).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from captions.cues import Cue
from captions.reading import read_caption_file
from captions.rules import CaptionRules, rules_for_language
from captions.translation import (
    Sentence,
    glossary_terms,
    layout_translation,
    protect_terms,
    restore_terms,
    sentences_of,
    words_of_cues,
)
from connectors.storage.store import ObjectStore
from connectors.translators import TranslatorError, TranslatorPool, TranslatorSpec
from connectors.translators.routes import Route, route_for
from library.revisions import CurrentTrack, commit_generated, current_track, current_tracks
from library.track_meta import TrackChange, without_meta
from schemas.errors import ErrorCode
from schemas.events import ErrorDetail, TrackSource

log = logging.getLogger(__name__)

BATCH = 32  # sentences per model call


@dataclass(frozen=True)
class TranslationRequest:
    """One track to make: the sentences of its source (the spoken language's, or Whisper's
    English when the route starts from it), and the glossary terms to keep."""

    target: str
    route: Route
    sentences: tuple[Sentence, ...]
    terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Translated:
    """The translations of a request's sentences, one each; or why there are none."""

    request: TranslationRequest
    texts: tuple[str, ...] = ()
    error: ErrorDetail | None = None


def translate_requests(
    requests: Sequence[TranslationRequest], pool: TranslatorPool
) -> list[Translated]:
    """Every request translated, in order: the sentences of all of them batched per translator
    and language pair (and per leg of a route through English). A translator that fails, or
    cannot be loaded, fails the requests it serves, never the others."""
    texts: list[list[str]] = []
    found: list[list[tuple[str, ...]]] = []
    for request in requests:
        protected = [protect_terms(s.text, request.terms) for s in request.sentences]
        texts.append([text for text, _ in protected])
        found.append([terms for _, terms in protected])
    errors: list[ErrorDetail | None] = [None] * len(requests)
    _run_legs(requests, texts, errors, pool)
    # A sentence whose placeholders did not come through is translated again as it was said.
    again: dict[int, list[int]] = defaultdict(list)
    for r in range(len(requests)):
        if errors[r] is not None:
            continue
        for k, text in enumerate(texts[r]):
            restored = restore_terms(text, found[r][k]) if found[r][k] else text
            if restored is None:
                again[r].append(k)
            else:
                texts[r][k] = restored
    if again:
        redo = [
            TranslationRequest(
                requests[r].target,
                requests[r].route,
                tuple(requests[r].sentences[k] for k in ks),
            )
            for r, ks in again.items()
        ]
        for (r, ks), done in zip(again.items(), translate_requests(redo, pool), strict=True):
            if done.error is not None:
                errors[r] = done.error
            for k, text in zip(ks, done.texts, strict=True):
                texts[r][k] = text
    return [
        Translated(request, () if errors[r] else tuple(texts[r]), errors[r])
        for r, request in enumerate(requests)
    ]


def _run_legs(
    requests: Sequence[TranslationRequest],
    texts: list[list[str]],
    errors: list[ErrorDetail | None],
    pool: TranslatorPool,
) -> None:
    """Each leg of every route, in turn; `texts` replaced by each leg's output."""
    specs = {spec.label: spec for spec in pool.specs}
    for leg_index in range(max((len(r.route.legs) for r in requests), default=0)):
        groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        for r, request in enumerate(requests):
            if errors[r] is None and leg_index < len(request.route.legs):
                leg = request.route.legs[leg_index]
                groups[(leg.translator, leg.source, leg.target)].append(r)
        for (label, source, target), members in groups.items():
            batch = [text for r in members for text in texts[r]]
            try:
                out = _translate(specs.get(label), pool, batch, source, target, label)
            except TranslatorError as exc:
                error = ErrorDetail(_code(exc.code), exc.message[:1000])
                for r in members:
                    errors[r] = error
                continue
            at = 0
            for r in members:
                texts[r] = out[at : at + len(texts[r])]
                at += len(texts[r])


def _translate(
    spec: TranslatorSpec | None,
    pool: TranslatorPool,
    batch: list[str],
    source: str,
    target: str,
    label: str,
) -> list[str]:
    if spec is None:
        raise TranslatorError("model_unavailable", f"no translator {label!r} is configured")
    translator = pool.get(spec)
    out: list[str] = []
    try:
        for at in range(0, len(batch), BATCH):
            part = batch[at : at + BATCH]
            done = translator.translate(part, source, target)
            if len(done) != len(part):
                raise TranslatorError(
                    "translation_failed",
                    f"{label} returned {len(done)} translations for {len(part)} sentences",
                )
            out += done
    except TranslatorError:
        raise
    except Exception as exc:  # the model's own failure: this track's, not the video's
        log.exception("%s failed on %s->%s", label, source, target)
        raise TranslatorError("translation_failed", f"{label}: {exc}") from exc
    return out


def _code(code: str) -> ErrorCode:
    try:
        return ErrorCode(code)
    except ValueError:
        return ErrorCode.TRANSLATION_FAILED


def lay_out(
    translated: Translated, base: CaptionRules, media_end: float | None = None
) -> tuple[Cue, ...]:
    """The cues of a translated track, under the caption rules of its language."""
    request = translated.request
    rules = rules_for_language(request.target, base)
    cues = layout_translation(request.sentences, translated.texts, rules, request.target, media_end)
    return tuple(cues)


def track_source(route: Route, language: str, revision: int) -> TrackSource:
    """What a translation says it was made from."""
    return TrackSource(language, revision, route.translator, route.pivot)


# ---- following a person's corrections ---------------------------------------------------------


@dataclass(frozen=True)
class FollowResult:
    """What following one change of a source track did: the translations made again, and the
    ones that could not be (their language and why)."""

    changes: tuple[TrackChange, ...] = ()
    failed: tuple[tuple[str, ErrorDetail], ...] = ()


def follow_correction(
    store: ObjectStore,
    video_id: str,
    source_language: str,
    pool: TranslatorPool,
    *,
    hotwords: str | None = None,
    media_end: float | None = None,
    base: CaptionRules | None = None,
) -> FollowResult:
    """Every translation a model made from the video's `source_language` track, made again from
    its current revision (a new generated revision each). Translations a person edited are
    left alone (stale until asked for again)."""
    source = current_track(store, video_id, source_language)
    if source is None:
        return FollowResult()
    followers = [
        track.language
        for track in current_tracks(store, video_id)
        if track.meta.source is not None
        and track.meta.source.language == source_language
        and track.meta.generated
        and track.meta.source.revision != source.meta.revision
    ]
    return translate_track(
        store, video_id, source, followers, pool, hotwords=hotwords, media_end=media_end, base=base
    )


def translate_track(
    store: ObjectStore,
    video_id: str,
    source: CurrentTrack,
    targets: Sequence[str],
    pool: TranslatorPool,
    *,
    hotwords: str | None = None,
    media_end: float | None = None,
    base: CaptionRules | None = None,
) -> FollowResult:
    """Translations of a stored track's current revision into `targets` by the pool's
    translators, committed as generated revisions (never over a person's current one)."""
    cues = read_caption_file(without_meta(source.text).encode("utf-8"))
    sentences = tuple(sentences_of(words_of_cues(cues, source.language)))
    terms = glossary_terms(hotwords)
    requests, failed = [], []
    for target in targets:
        route = route_for(source.language, target, pool.specs)
        if route is None:
            message = f"no configured translator makes {source.language}->{target}"
            failed.append((target, ErrorDetail(ErrorCode.UNSUPPORTED_PAIR, message)))
        else:
            requests.append(TranslationRequest(target, route, sentences, terms))
    changes = []
    for translated in translate_requests(requests, pool):
        request = translated.request
        if translated.error is not None:
            failed.append((request.target, translated.error))
            continue
        change = commit_generated(
            store,
            video_id,
            request.target,
            lay_out(translated, base or CaptionRules(), media_end),
            kind="subtitles",
            source=track_source(request.route, source.language, source.meta.revision),
        )
        if change is not None:
            changes.append(change)
    return FollowResult(tuple(changes), tuple(failed))
