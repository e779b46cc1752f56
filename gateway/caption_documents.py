"""The documents of the captions API: a track as the list shows it, one track with its cues and
the caption rules of its language (what an editor checks), a track's revisions, the files a
change touched (for `captions.updated`), and a track's file in any caption format."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.responses import Response

from captions.checks import cue_problems
from captions.formats import write_caption_track
from captions.markup import notation
from captions.reading import read_caption_file
from captions.rules import CaptionRules, rules_for_language
from connectors.storage.layout import content_type_for, track_key
from connectors.storage.store import ObjectStore
from gateway.origin import rendered_response, serve_object
from gateway.responses import (
    NOT_FOUND,
    ApiError,
    CaptionEntry,
    CaptionRulesDoc,
    CaptionTrack,
    CaptionUrls,
    Cue,
    ErrorDetail,
    RevisionEntry,
    RevisionList,
    TrackSourceDoc,
)
from library.pending import PendingTrack
from library.revisions import CurrentTrack, Revision
from library.track_meta import TrackMeta, without_meta
from schemas.events import TrackRef
from schemas.formats import CAPTION_FORMATS, KEPT_FORMAT
from schemas.languages import native_name


def track_files(store: ObjectStore, video_id: str, lang: str, meta: TrackMeta) -> list[TrackRef]:
    """The track's files the origin serves (or served, after a deletion), one a caption
    format: what caches purge."""
    return [
        TrackRef(
            lang,
            meta.kind,
            fmt,
            store.uri(track_key(video_id, lang, fmt)),
            track_key(video_id, lang, fmt),
            meta.revision,
            meta.generated,
            meta.updated_at,
        )
        for fmt in CAPTION_FORMATS
    ]


def caption_entry(
    base: str,
    video_id: str,
    lang: str,
    track: CurrentTrack | None,
    pending: PendingTrack | None,
    spoken: str | None,
    source_revision: int | None = None,
) -> CaptionEntry:
    """One track as the list shows it (a track still being made has no files yet).
    `source_revision`: the current revision of the track a translation was made from (it is
    `stale` when that moved on)."""
    url = f"{base}/v1/videos/{video_id}/captions/{lang}"
    meta = track.meta if track else None
    kind = meta.kind if meta else ("captions" if lang == spoken or spoken is None else "subtitles")
    error = pending.error if pending else None
    source = meta.source if meta else None
    return CaptionEntry(
        language=lang,
        label=native_name(lang),
        kind=kind,
        generated=meta.generated if meta else True,
        maker=meta.maker if meta else "model",  # type: ignore[arg-type]
        aligned=meta.alignment[0] if meta and meta.alignment else None,
        interpolated=meta.alignment[1] if meta and meta.alignment else None,
        status=pending.status if pending else "ready",
        revision=meta.revision if meta else None,
        etag=track.etag if track else None,
        updated_at=meta.updated_at if meta else (pending.requested_at if pending else None),
        url=url,
        urls=CaptionUrls(**{f: f"{url}.{f}" for f in CAPTION_FORMATS}) if track else None,
        error=ErrorDetail(code=str(error.code), message=error.message) if error else None,
        source=TrackSourceDoc(**source.to_dict()) if source else None,  # type: ignore[arg-type]
        stale=bool(source and source_revision and source_revision != source.revision),
    )


def track_document(
    base: str,
    video_id: str,
    track: CurrentTrack,
    spoken: str | None,
    source_revision: int | None = None,
) -> CaptionTrack:
    """One track with its cues (text and markup) and the caption rules of its language."""
    entry = caption_entry(base, video_id, track.language, track, None, spoken, source_revision)
    cues = read_caption_file(without_meta(track.text).encode("utf-8"))
    rules = rules_for_language(track.language, CaptionRules())
    documents = []
    for k, cue in enumerate(cues):
        markup = notation(cue.cue_text)
        following = cues[k + 1].start if k + 1 < len(cues) else None
        problems = cue_problems(cue.start, cue.end, markup, following, rules)
        documents.append(
            Cue(
                start=round(cue.start, 3),
                end=round(cue.end, 3),
                text=cue.text,
                markup=markup,
                warnings=[p.text for p in problems],
            )
        )
    return CaptionTrack(**entry.model_dump(), cues=documents, rules=caption_rules(track.language))


def caption_rules(lang: str) -> CaptionRulesDoc:
    """The caption rules of a language, as an editor checks them."""
    rules = rules_for_language(lang, CaptionRules())
    return CaptionRulesDoc(
        max_chars_per_line=rules.max_chars_per_line,
        max_lines=rules.max_lines,
        min_duration_s=round(rules.min_duration_s, 3),
        max_duration_s=rules.max_duration_s,
        min_gap_s=round(rules.min_gap_s, 3),
        max_chars_per_second=rules.max_chars_per_second,
        half_width_weight=rules.half_width_weight,
    )


def revision_list(base: str, revisions: Sequence[Revision]) -> RevisionList:
    """A track's kept revisions, oldest first; `base`: the URL of its revisions."""
    return RevisionList(
        revisions=[
            RevisionEntry(
                revision=r.meta.revision,
                generated=r.meta.generated,
                kind=r.meta.kind,
                current=r.current,
                updated_at=r.meta.updated_at,
                url=f"{base}/{r.meta.revision}.vtt",
            )
            for r in revisions
        ]
    )


def track_file_response(
    store: ObjectStore,
    kept_key: str,
    fmt: str,
    language: str,
    request_headers: Mapping[str, str],
    *,
    cache_control: str,
    stored_key: str | None = None,
) -> Response:
    """A track's file in the caption format `fmt`: the file at `stored_key` when there is one,
    else made from the WebVTT at `kept_key` (a kept revision, or a track stored before its
    video had this format), with an ETag of its own; 404 when neither exists."""
    content_type = content_type_for(f"x.{fmt}")
    if fmt == KEPT_FORMAT or stored_key is not None:
        key = kept_key if fmt == KEPT_FORMAT else stored_key or kept_key
        try:
            return serve_object(
                store, key, request_headers, content_type=content_type, cache_control=cache_control
            )
        except ApiError as exc:
            if exc.status != 404 or fmt == KEPT_FORMAT:
                raise
    try:
        raw, etag = store.get_versioned(kept_key)
    except FileNotFoundError:
        raise ApiError(404, NOT_FOUND, "no such file") from None
    cues = read_caption_file(without_meta(raw.decode("utf-8", "replace")).encode("utf-8"))
    return rendered_response(
        write_caption_track(fmt, cues, language),
        f"{etag}-{fmt}",
        request_headers,
        content_type=content_type,
        cache_control=cache_control,
    )
