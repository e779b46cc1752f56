"""`POST /v1/videos`: an upload in, stored and announced as a `video.uploaded` event.

The key is checked before a byte of the body is read; the body streams into a bounded spool
(never into memory), its type is told from its first bytes, then it is stored under
`videos/<video_id>/<name>` and its event published (acknowledged, or 503).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from email.message import Message
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from captions.scripts import MAX_SCRIPT_BYTES, ScriptError, script_text
from connectors.storage.layout import (
    content_type_for,
    manifest_key,
    script_key,
    staged_transcript_key,
    upload_key,
    uploads_prefix,
)
from connectors.storage.spool import UploadSpool
from connectors.storage.store import ObjectStore
from connectors.translators.routes import refuse_reason
from gateway.context import gateway_of, require_api_key
from gateway.media_types import SNIFF_BYTES, safe_file_name, sniff_extension
from gateway.params import TRANSCRIPT_BODY, bounded_body, check_language, check_video_id
from gateway.publishing import publish_or_503
from gateway.responses import (
    INVALID_REQUEST,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    ApiError,
    TranscriptAccepted,
    UploadAccepted,
    answer,
    error_responses,
)
from library.catalog import VideoRecord, precise_timestamp, register
from library.revisions import retire_tracks
from schemas.errors import CaptionError
from schemas.events import UploadRequest

router = APIRouter()


@router.post(
    "/v1/videos",
    status_code=202,
    response_model=UploadAccepted,
    tags=["videos"],
    responses=error_responses(400, 401, 413, 415, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The media file itself (audio or video; told from its bytes).",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload_video(
    request: Request,
    language: Annotated[str | None, Query(description="spoken language; default: detect")] = None,
    translate_to: Annotated[
        str | None,
        Query(
            description="subtitle languages, comma-separated BCP 47 codes ('pt-BR,en'); those "
            "GET /v1/info lists as translate_to"
        ),
    ] = None,
    video_id: Annotated[str | None, Query(description="default: a new random id")] = None,
    name: Annotated[
        str | None, Query(description="file name; default: Content-Disposition")
    ] = None,
    hotwords: Annotated[
        str | None,
        Query(
            description="words and names the speech holds, spelled as they must be "
            "written (e.g. 'ComfyUI, Kubernetes'); at most 500 characters",
        ),
    ] = None,
    initial_prompt: Annotated[
        str | None,
        Query(
            description="text the model reads as if said just before the speech "
            "(Whisper's initial prompt); at most 1000 characters",
        ),
    ] = None,
    private: Annotated[
        bool,
        Query(description="every read of the video needs a playback token or the API key"),
    ] = False,
    transcript_id: Annotated[
        str | None,
        Query(
            description="a transcript sent first with POST /v1/transcripts: the captions then "
            "hold exactly its words, timed by aligning them to the speech",
            pattern=TRANSCRIPT_ID_PATTERN,
        ),
    ] = None,
) -> JSONResponse:
    """Store the body under `videos/<video_id>/<name>` and publish `video.uploaded`."""
    gateway = gateway_of(request)
    settings, store = gateway.settings, gateway.store
    require_api_key(request)  # before a byte of the body is read
    limit = settings.max_upload_bytes
    announced = request.headers.get("content-length")
    if announced is not None and (not announced.isdigit() or int(announced) > limit):
        if not announced.isdigit():
            raise ApiError(400, INVALID_REQUEST, "Content-Length is not a number")
        raise _too_large(limit)
    video_id = video_id if video_id is not None else f"v{uuid.uuid4().hex[:16]}"
    language = check_language(language) if language and language != "auto" else language
    translate = tuple(check_language(t) for t in (translate_to or "").split(",") if t.strip())
    refused = refuse_reason(translate, settings.translators)
    if refused:
        raise ApiError(400, INVALID_REQUEST, f"translate_to: {refused}")
    vocabulary = (hotwords, initial_prompt)
    _event(store, video_id, "upload", language, translate, vocabulary, private=private)
    if transcript_id is not None and not store.exists(staged_transcript_key(transcript_id)):
        raise ApiError(400, INVALID_REQUEST, f"no transcript {transcript_id!r} was sent")
    with UploadSpool(limit, settings.tmp_dir) as spool:
        head = b""
        extension: str | None = None
        async for chunk in request.stream():
            if extension is None:
                head += chunk[: SNIFF_BYTES - len(head)]
                if len(head) >= SNIFF_BYTES:
                    extension = _sniffed(head)
            try:
                spool.write(chunk)  # local disk: brief enough for the event loop
            except OverflowError:
                raise _too_large(limit) from None
        extension = extension or _sniffed(head)
        file_name = safe_file_name(name or _disposition_name(request), extension)
        key = upload_key(video_id, file_name)
        source = await run_in_threadpool(spool.store, store, key, content_type_for(file_name))
    await run_in_threadpool(_forget_older_versions, store, video_id, key)
    event = _event(
        store, video_id, file_name, language, translate, vocabulary, source, private=private
    )
    if transcript_id is not None:
        script = await run_in_threadpool(_take_transcript, store, video_id, transcript_id)
        event = replace(event, transcript=script)
    record = VideoRecord(video_id, file_name, event.occurred_at or precise_timestamp(), private)
    await run_in_threadpool(register, store, record)
    unavailable = "the upload was stored but the event broker is unavailable; retry"
    await run_in_threadpool(publish_or_503, gateway, event, unavailable)
    status_url = f"{gateway.base_url(request)}/v1/videos/{video_id}"
    accepted = UploadAccepted(video_id=video_id, status_url=status_url)
    return answer(accepted, status_code=202, headers={"Location": status_url})


def _event(
    store: ObjectStore,
    video_id: str,
    file_name: str,
    language: str | None,
    translate_to: tuple[str, ...],
    vocabulary: tuple[str | None, str | None] = (None, None),
    source: str | None = None,
    *,
    private: bool = False,
) -> UploadRequest:
    """The `video.uploaded` event; 400 `invalid_request` for a bad id or parameter.

    `vocabulary`: (hotwords, initial prompt); empty strings count as not given."""
    check_video_id(video_id)
    hotwords, initial_prompt = vocabulary
    try:
        return UploadRequest(
            video_id=video_id,
            source=source or store.uri(upload_key(video_id, file_name)),
            language=language,
            translate_to=translate_to,
            event_id=str(uuid.uuid4()),
            # to the millisecond: a tombstone tells the deleted video's events from a new one's
            occurred_at=precise_timestamp(),
            private=private,
            hotwords=hotwords or None,
            initial_prompt=initial_prompt or None,
        )
    except CaptionError as exc:  # the event's own rule, said of the request's parameter
        raise ApiError(400, INVALID_REQUEST, exc.message) from None


TRANSCRIPT_ID_PATTERN = "^t[0-9a-f]{32}$"


@router.post(
    "/v1/transcripts",
    status_code=201,
    response_model=TranscriptAccepted,
    tags=["videos"],
    responses=error_responses(400, 401, 413),
    openapi_extra=TRANSCRIPT_BODY,
)
async def send_transcript(request: Request) -> JSONResponse:
    """Keep a transcript for the upload that follows (`POST /v1/videos?transcript_id=...`):
    plain UTF-8 text, WebVTT or SubRip, at most 4 MiB; checked to hold words."""
    require_api_key(request)
    body = await bounded_body(request, MAX_SCRIPT_BYTES, "a transcript")
    try:
        words = len(script_text(body).split())
    except ScriptError as exc:
        raise ApiError(400, INVALID_REQUEST, str(exc)) from None
    transcript_id = f"t{uuid.uuid4().hex}"
    store = gateway_of(request).store
    key = staged_transcript_key(transcript_id)
    await run_in_threadpool(store.put_bytes, key, body, "text/plain; charset=utf-8")
    return answer(TranscriptAccepted(transcript_id=transcript_id, words=words), status_code=201)


def _take_transcript(store: ObjectStore, video_id: str, transcript_id: str) -> str:
    """The staged transcript moved under the video (a delete of the video removes it)."""
    staged = staged_transcript_key(transcript_id)
    key = script_key(video_id, f"upload-{transcript_id}.txt")
    store.put_bytes(key, store.get_bytes(staged), "text/plain; charset=utf-8")
    store.delete(staged)
    return store.uri(key)


def _sniffed(head: bytes) -> str:
    extension = sniff_extension(head)
    if extension is None:
        what = "the body is empty" if not head else "the body is not audio or video"
        raise ApiError(415, UNSUPPORTED_MEDIA_TYPE, f"{what} (told from its first bytes)")
    return extension


def _too_large(limit: int) -> ApiError:
    return ApiError(413, PAYLOAD_TOO_LARGE, f"the body is over the {limit}-byte limit")


def _disposition_name(request: Request) -> str | None:
    header = request.headers.get("content-disposition")
    if not header:
        return None
    message = Message()
    message["content-disposition"] = header
    name = message.get_filename()
    return str(name) if name else None


def _forget_older_versions(store: ObjectStore, video_id: str, key: str) -> None:
    """A new upload under an existing id replaces the old file, its captions' manifest and its
    tracks (their revisions stay), so the status says `processing` and the stream service
    captions the new file afresh."""
    for old in store.list(uploads_prefix(video_id)):
        if old != key:
            store.delete(old)
    store.delete(manifest_key(video_id))
    retire_tracks(store, video_id)
