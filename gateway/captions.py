"""The captions API: list a video's caption tracks, read one with its cues, replace it with a
person's file, take it out of service, ask for it to be made again, and read its history.
Modelled on Cloudflare Stream's captions API; every write needs the API key.

    GET    /v1/videos/{id}/captions                       every track, with label and status
    GET    /v1/videos/{id}/captions/{lang}                one track: its cues and caption rules
    PUT    /v1/videos/{id}/captions/{lang}                a WebVTT or SubRip file (If-Match)
    DELETE /v1/videos/{id}/captions/{lang}                204; its revisions stay
    POST   /v1/videos/{id}/captions/{lang}/generate       202: made again by the pipeline
    GET    /v1/videos/{id}/captions/{lang}/revisions      every revision kept
    GET    /v1/videos/{id}/captions/{lang}/revisions/{n}.{format}

Changes go through `library.revisions` (conditional writes: of two saves from the same ETag
exactly one lands) and are announced as `captions.updated` events.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from captions.reading import CaptionFileError, read_caption_file
from captions.scripts import MAX_SCRIPT_BYTES, ScriptError, script_cues, script_text
from connectors.storage.layout import pending_key, revision_key, script_key
from connectors.storage.store import ObjectStore, PreconditionFailed
from connectors.translators import same_language
from connectors.translators.routes import refuse_reason, route_for
from gateway.access import cache_control, check_read
from gateway.caption_documents import (
    caption_entry,
    revision_list,
    track_document,
    track_file_response,
    track_files,
)
from gateway.context import Gateway, gateway_of, require_api_key
from gateway.origin import IMMUTABLE_CACHE, etag_matches, quoted
from gateway.params import (
    TRANSCRIPT_BODY,
    bounded_body,
    check_format,
    check_language,
    check_revision,
    check_video_id,
    preconditions,
)
from gateway.publishing import announce, publish_or_503
from gateway.responses import (
    CONFLICT,
    INVALID_CAPTIONS,
    INVALID_REQUEST,
    NOT_FOUND,
    PRECONDITION_FAILED,
    PRECONDITION_REQUIRED,
    ApiError,
    CaptionEntry,
    CaptionList,
    CaptionTrack,
    GenerateAccepted,
    RevisionList,
    answer,
    error_responses,
)
from gateway.translations import follow_in_background, translate_in_background
from library.catalog import precise_timestamp
from library.pending import PendingTrack, mark_pending, pending_tracks
from library.revisions import (
    CurrentTrack,
    PreconditionRequired,
    check_preconditions,
    current_track,
    current_tracks,
    delete_track,
    history,
    save_track,
)
from library.track_meta import TrackChange
from library.videos import stored_manifest, upload_key_of
from schemas.events import UploadRequest, utc_timestamp
from schemas.languages import is_whisper_language
from schemas.manifest import Manifest

MAX_CAPTION_BYTES: Final = 2 * 2**20

router = APIRouter(tags=["captions"])

CAPTION_FILE_BODY: Final = {
    "requestBody": {
        "required": True,
        "description": "A WebVTT or SubRip file (told apart by its content), at most 2 MiB.",
        "content": {
            "text/vtt": {"schema": {"type": "string"}},
            "application/x-subrip": {"schema": {"type": "string"}},
        },
    },
    "parameters": [
        {"name": "If-Match", "in": "header", "schema": {"type": "string"},
         "description": "the track's current ETag, to replace it"},
        {"name": "If-None-Match", "in": "header", "schema": {"type": "string", "enum": ["*"]},
         "description": "`*`, to add a language the video has no track in"},
    ],
}  # fmt: skip


@router.get(
    "/v1/videos/{video_id}/captions",
    response_model=CaptionList,
    responses=error_responses(400, 404),
)
def list_captions(video_id: str, request: Request) -> JSONResponse:
    """Every caption track of the video, the spoken language first, with its native-language
    label, whether a model made it, and its status (`ready`, or `generating` / `failed` while
    it is being made again)."""
    check_read(request, video_id)
    gateway = gateway_of(request)
    manifest = _video(gateway.store, video_id)
    base = gateway.base_url(request)
    pending = {p.language: p for p in pending_tracks(gateway.store, video_id)}
    tracks = {t.language: t for t in current_tracks(gateway.store, video_id)}
    for ref in manifest.tracks if manifest else ():  # translations that could not be made
        if ref.status == "failed" and ref.language not in tracks and ref.error is not None:
            when = manifest.created_at if manifest else utc_timestamp()
            pending.setdefault(
                ref.language, PendingTrack(ref.language, "", when, "failed", ref.error)
            )
    spoken = manifest.language if manifest else None
    languages = sorted({*tracks, *pending}, key=lambda lang: (lang != spoken, lang))
    entries = [
        caption_entry(
            base,
            video_id,
            lang,
            tracks.get(lang),
            pending.get(lang),
            spoken,
            _source_revision(tracks.get(lang), tracks),
        )
        for lang in languages
    ]
    return answer(CaptionList(captions=entries))


@router.get(
    "/v1/videos/{video_id}/captions/{lang}",
    response_model=CaptionTrack,
    responses={304: {"description": "not modified"}, **error_responses(400, 404)},
)
def get_track(video_id: str, lang: str, request: Request) -> Response:
    """One track as JSON: its entry, its cues (the text a viewer reads, and the same with a
    person's markup) and the caption rules of its language (what an editor checks as a person
    types). `ETag` is the track's, for `If-Match` on a later PUT."""
    private = check_read(request, video_id)
    gateway = gateway_of(request)
    manifest = _video(gateway.store, video_id)
    track = _track(gateway.store, video_id, check_language(lang))
    cache = "private, no-cache" if private else "no-cache"
    headers = {"ETag": quoted(track.etag), "Cache-Control": cache}
    if etag_matches(request.headers.get("if-none-match"), track.etag):
        return Response(status_code=304, headers=headers)
    spoken = manifest.language if manifest else None
    source = track.meta.source
    of = current_track(gateway.store, video_id, source.language) if source else None
    revision = of.meta.revision if of else None
    document = track_document(gateway.base_url(request), video_id, track, spoken, revision)
    return answer(document, headers=headers)


@router.put(
    "/v1/videos/{video_id}/captions/{lang}",
    response_model=CaptionEntry,
    responses={
        201: {"model": CaptionEntry, "description": "a new language, added"},
        **error_responses(400, 401, 404, 409, 412, 413, 428),
    },
    openapi_extra=CAPTION_FILE_BODY,
)
async def put_track(video_id: str, lang: str, request: Request) -> JSONResponse:
    """Replace the track (`If-Match: <its ETag>`) or add a language (`If-None-Match: *`) with
    a WebVTT or SubRip file: a new revision, written in every format by our own writers (a
    person's markup kept); the one before it is kept. 200 when replaced, 201 when added."""
    require_api_key(request)
    check_video_id(video_id)
    lang = check_language(lang)
    body = await bounded_body(request, MAX_CAPTION_BYTES, "a caption file")
    if_match, if_none_match = preconditions(request)
    gateway = gateway_of(request)
    change = await run_in_threadpool(
        _save, gateway.store, video_id, lang, body, if_match, if_none_match
    )
    await run_in_threadpool(_announce, gateway, video_id, change)
    follow_in_background(gateway, video_id, lang)  # its machine translations, made again
    saved = CurrentTrack(lang, change.etag or "", change.meta, "")  # this save, not a later one
    entry = caption_entry(gateway.base_url(request), video_id, lang, saved, None, None)
    return answer(
        entry,
        status_code=201 if if_none_match else 200,
        headers={"ETag": quoted(saved.etag), "Location": entry.url},
    )


@router.delete(
    "/v1/videos/{video_id}/captions/{lang}",
    status_code=204,
    response_class=Response,
    responses=error_responses(400, 401, 404, 412),
)
def delete_captions(video_id: str, lang: str, request: Request) -> Response:
    """Take the track out of the list, the player and the origin; its revisions stay
    (`If-Match` is honoured when given)."""
    require_api_key(request)
    check_video_id(video_id)
    lang = check_language(lang)
    gateway = gateway_of(request)
    if_match, _ = preconditions(request, allow_none_match=False)
    try:
        change = delete_track(gateway.store, video_id, lang, if_match=if_match)
    except FileNotFoundError:
        raise ApiError(404, NOT_FOUND, f"video {video_id!r} has no {lang} track") from None
    except PreconditionFailed as exc:
        raise ApiError(412, PRECONDITION_FAILED, str(exc)) from None
    _announce(gateway, video_id, change)
    return Response(status_code=204)


@router.post(
    "/v1/videos/{video_id}/captions/{lang}/generate",
    status_code=202,
    response_model=GenerateAccepted,
    responses=error_responses(400, 401, 404, 409, 503),
)
def generate(
    video_id: str,
    lang: str,
    request: Request,
    kind: Annotated[
        Literal["captions", "subtitles"] | None,
        Query(
            description="captions: hear the speech again as this language (a wrong detection); "
            "subtitles: translate the captions into it. Default: subtitles when the track is a "
            "translation or Whisper does not speak the language, else captions"
        ),
    ] = None,
) -> JSONResponse:
    """Make the track again: captions with `language={lang}` (for a wrong detection); for `en`
    on speech in another language, Whisper's English translation; for another language, a
    translation of the current captions by the configured translators (done by the gateway).
    The result becomes a new revision, current only if the current one is a model's: a
    person's revision is never replaced (ask again to replace a `stale` translation you
    edited: delete it first)."""
    require_api_key(request)
    check_video_id(video_id)
    lang = check_language(lang)
    gateway = gateway_of(request)
    manifest = _ready(gateway.store, video_id)
    spoken = manifest.language or "und"
    translate = lang.split("-")[0] == "en" and spoken != "en"
    url = f"{gateway.base_url(request)}/v1/videos/{video_id}/captions"
    if kind is None:
        existing = current_track(gateway.store, video_id, lang)
        translation = existing is not None and existing.meta.source is not None
        kind = "subtitles" if translation or not is_whisper_language(lang) else "captions"
    if kind == "subtitles" and not translate and not same_language(spoken, lang):
        reason = refuse_reason([lang], gateway.settings.translators)
        if reason is not None or route_for(spoken, lang, gateway.settings.translators) is None:
            message = reason or f"no configured translator makes {spoken}->{lang}"
            raise ApiError(400, INVALID_REQUEST, message)
        if current_track(gateway.store, video_id, spoken) is None:
            raise ApiError(409, CONFLICT, f"video {video_id!r} has no {spoken} track to translate")
        pending = mark_pending(gateway.store, video_id, lang, str(uuid.uuid4()))
        translate_in_background(gateway, video_id, spoken, lang, pending.event_id)
        accepted = GenerateAccepted(
            video_id=video_id, language=lang, status="generating", captions_url=url
        )
        return answer(accepted, status_code=202, headers={"Location": url})
    if not is_whisper_language(lang):
        raise ApiError(400, INVALID_REQUEST, f"Whisper cannot make captions in {lang!r}")
    if upload_key_of(gateway.store, video_id) is None:
        raise ApiError(404, NOT_FOUND, f"the upload of video {video_id!r} is gone")
    _ask_again(
        gateway,
        manifest,
        lang,
        str(uuid.uuid4()),
        language=manifest.language if translate else lang,
        translate_to=("en",) if translate else (),
    )
    accepted = GenerateAccepted(
        video_id=video_id, language=lang, status="generating", captions_url=url
    )
    return answer(accepted, status_code=202, headers={"Location": url})


@router.post(
    "/v1/videos/{video_id}/captions/{lang}/align",
    status_code=202,
    response_model=GenerateAccepted,
    responses=error_responses(400, 401, 404, 409, 412, 413, 428, 503),
    openapi_extra=TRANSCRIPT_BODY,
)
async def align(
    video_id: str,
    lang: str,
    request: Request,
    keep_cues: Annotated[
        bool,
        Query(
            description="with a WebVTT or SubRip body: keep its cues as written (text, lines, "
            "markup) and set only their times; default: lay the words out as new cues"
        ),
    ] = False,
    retime_from: Annotated[
        int | None, Query(ge=1, description="with keep_cues: the first cue re-timed (1-based)")
    ] = None,
    retime_to: Annotated[
        int | None, Query(ge=1, description="with keep_cues: the last cue re-timed (1-based)")
    ] = None,
) -> JSONResponse:
    """Time these words to the speech: the track becomes exactly the given words (spelling,
    casing and punctuation kept), timed by aligning them to the audio with the Whisper model,
    laid out under the language's caption rules (or, with `keep_cues`, in the body's own cues,
    of which `retime_from`..`retime_to` get new times and the others keep theirs): a new
    revision (`generated` false, maker `aligned`), made current unless a person saves another
    revision meanwhile; then `captions.updated`. `If-Match` names the revision the words
    replace (`*`: whichever is current); without a track yet, `If-None-Match: *`."""
    require_api_key(request)
    check_video_id(video_id)
    lang = check_language(lang)
    body = await bounded_body(request, MAX_SCRIPT_BYTES, "a transcript")
    if_match, if_none_match = preconditions(request)
    retime: tuple[int, int] | None = None
    try:
        if keep_cues:
            cues = script_cues(body)
            if retime_from is not None or retime_to is not None:
                first, last = retime_from or 1, retime_to or len(cues)
                if not first <= last <= len(cues):
                    message = f"retime_from..retime_to: cues 1 to {len(cues)}, first <= last"
                    raise ApiError(400, INVALID_REQUEST, message)
                retime = (first - 1, last - 1)
        elif retime_from is not None or retime_to is not None:
            raise ApiError(400, INVALID_REQUEST, "retime_from and retime_to go with keep_cues")
        else:
            script_text(body)
    except ScriptError as exc:
        raise ApiError(400, INVALID_REQUEST, str(exc)) from None
    if not is_whisper_language(lang):
        raise ApiError(400, INVALID_REQUEST, f"Whisper cannot hear {lang!r}: nothing to align to")
    gateway = gateway_of(request)
    await run_in_threadpool(
        _ask_alignment, gateway, video_id, lang, body, if_match, if_none_match, keep_cues, retime
    )
    url = f"{gateway.base_url(request)}/v1/videos/{video_id}/captions"
    accepted = GenerateAccepted(
        video_id=video_id, language=lang, status="generating", captions_url=url
    )
    return answer(accepted, status_code=202, headers={"Location": url})


def _ask_alignment(
    gateway: Gateway,
    video_id: str,
    lang: str,
    body: bytes,
    if_match: str | None,
    if_none_match: bool,
    keep_cues: bool,
    retime: tuple[int, int] | None,
) -> None:
    """Check the preconditions, keep the words, publish the upload event that aligns them."""
    store = gateway.store
    manifest = _ready(store, video_id)
    try:
        check_preconditions(current_track(store, video_id, lang), lang, if_match, if_none_match)
    except PreconditionRequired as exc:
        raise ApiError(428, PRECONDITION_REQUIRED, str(exc)) from None
    except PreconditionFailed as exc:
        raise ApiError(412, PRECONDITION_FAILED, str(exc)) from None
    if upload_key_of(store, video_id) is None:
        raise ApiError(404, NOT_FOUND, f"the upload of video {video_id!r} is gone")
    event_id = str(uuid.uuid4())
    key = script_key(video_id, f"{lang}-{event_id}.{'vtt' if keep_cues else 'txt'}")
    store.put_bytes(key, body, "text/plain; charset=utf-8")
    _ask_again(
        gateway,
        manifest,
        lang,
        event_id,
        language=lang,
        transcript=store.uri(key),
        keep_cues=keep_cues,
        retime_cues=retime,
    )


def _ask_again(
    gateway: Gateway, manifest: Manifest, lang: str, event_id: str, **asked: Any
) -> None:
    """Publish the upload event that makes the track in `lang` again (`asked`: what it asks
    for beyond the upload's own source and vocabulary), the track marked as being made; 503
    when the broker does not take it, and the mark taken back."""
    hotwords, initial_prompt = manifest.vocabulary or (None, None)
    event = UploadRequest(
        video_id=manifest.video_id,
        source=manifest.source or "",
        event_id=event_id,
        occurred_at=precise_timestamp(),
        hotwords=hotwords,
        initial_prompt=initial_prompt,
        regenerate=True,
        **asked,
    )
    mark_pending(gateway.store, manifest.video_id, lang, event_id)
    try:
        publish_or_503(gateway, event, "the event broker is unavailable; retry")
    except ApiError:
        gateway.store.delete(pending_key(manifest.video_id, lang))
        raise


@router.get(
    "/v1/videos/{video_id}/captions/{lang}/revisions",
    response_model=RevisionList,
    responses=error_responses(400, 404),
)
def list_revisions(video_id: str, lang: str, request: Request) -> JSONResponse:
    """Every kept revision of the track, oldest first (also after it was deleted)."""
    check_read(request, video_id)
    lang = check_language(lang)
    gateway = gateway_of(request)
    revisions = history(gateway.store, video_id, lang)
    if not revisions:
        raise ApiError(404, NOT_FOUND, f"video {video_id!r} has no {lang} track, nor had one")
    base = f"{gateway.base_url(request)}/v1/videos/{video_id}/captions/{lang}/revisions"
    return answer(revision_list(base, revisions))


@router.get(
    "/v1/videos/{video_id}/captions/{lang}/revisions/{revision}.{fmt}",
    response_class=Response,
    responses={304: {"description": "not modified"}, **error_responses(400, 404)},
)
def get_revision(video_id: str, lang: str, revision: int, fmt: str, request: Request) -> Response:
    """One kept revision, in any caption format of the registry (kept as WebVTT, the others
    made from it); a revision never changes, so caches keep it."""
    private = check_read(request, video_id)
    lang, fmt = check_language(lang), check_format(fmt)
    key = revision_key(video_id, lang, check_revision(revision))
    store = gateway_of(request).store
    cache = cache_control(private, IMMUTABLE_CACHE)
    return track_file_response(store, key, fmt, lang, request.headers, cache_control=cache)


# --- the work behind the routes -----------------------------------------------------------------


def _save(
    store: ObjectStore,
    video_id: str,
    lang: str,
    body: bytes,
    if_match: str | None,
    if_none_match: bool,
) -> TrackChange:
    manifest = _ready(store, video_id)
    try:
        cues = read_caption_file(body, media_end=manifest.duration_s)
    except CaptionFileError as exc:
        raise ApiError(400, INVALID_CAPTIONS, str(exc)) from None
    if not cues:
        raise ApiError(400, INVALID_CAPTIONS, "line 1: the file has no cue with text")
    kind: Literal["captions", "subtitles"] = (
        "captions" if lang == manifest.language else "subtitles"
    )
    try:
        return save_track(
            store, video_id, lang, cues, kind=kind, if_match=if_match, if_none_match=if_none_match
        )
    except PreconditionRequired as exc:
        raise ApiError(428, PRECONDITION_REQUIRED, str(exc)) from None
    except PreconditionFailed as exc:
        raise ApiError(412, PRECONDITION_FAILED, str(exc)) from None


def _source_revision(track: CurrentTrack | None, tracks: dict[str, CurrentTrack]) -> int | None:
    """The current revision of the track a translation was made from (None: not one, or its
    source is gone)."""
    source = track.meta.source if track else None
    current = tracks.get(source.language) if source else None
    return current.meta.revision if current else None


def _announce(gateway: Gateway, video_id: str, change: TrackChange) -> None:
    tracks = track_files(gateway.store, video_id, change.language, change.meta)
    announce(gateway, video_id, change, tracks)


def _video(store: ObjectStore, video_id: str) -> Manifest | None:
    """The video's manifest (None while it is being captioned); 404 for no video at all."""
    check_video_id(video_id)
    manifest = stored_manifest(store, video_id)
    if manifest is None and upload_key_of(store, video_id) is None:
        raise ApiError(404, NOT_FOUND, f"no video {video_id!r}")
    return manifest


def _ready(store: ObjectStore, video_id: str) -> Manifest:
    manifest = _video(store, video_id)
    if manifest is None or manifest.status != "ready":
        state = "still being captioned" if manifest is None else "not captioned (it failed)"
        raise ApiError(409, CONFLICT, f"video {video_id!r} is {state}; its captions wait for it")
    return manifest


def _track(store: ObjectStore, video_id: str, lang: str) -> CurrentTrack:
    track = current_track(store, video_id, lang)
    if track is None:
        raise ApiError(404, NOT_FOUND, f"video {video_id!r} has no {lang} track")
    return track
