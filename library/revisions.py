"""A caption track's revisions in storage: the one place that changes a track.

    captions/<id>/<lang>.vtt                the current revision (what the origin serves)
    captions/<id>/<lang>.srt, .ttml, ...    the same cues in the other formats, following it
    captions/<id>/revisions/<lang>/<n>.vtt  every revision ever made, kept
    captions/<id>/manifest.json             its track entries follow the .vtt files

Every revision is written once under its number, by a conditional create that claims the
number, so two writers never share one. The current `.vtt` carries its `TrackMeta` (revision,
made by a model or a person, kind, time) in a NOTE, and changes only by a conditional write
against the ETag it had (`ObjectStore.put_if`): of two changes racing from the same revision,
exactly one lands. The other formats and the manifest are then brought in line with the `.vtt`
(`sync_track`), until the `.vtt` no longer moves under them.

A person's revision is never replaced by a model's: a track made again while a person's
revision is current is kept as a revision that is not current (`commit_generated`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final, Literal

from captions.cues import Cue
from captions.formats import write_caption_track, write_vtt
from captions.reading import read_caption_file
from connectors.storage.layout import (
    captions_prefix,
    content_type_for,
    manifest_key,
    revision_key,
    revisions_prefix,
    track_key,
)
from connectors.storage.store import ObjectStore, PreconditionFailed
from library.track_meta import (
    TrackChange,
    TrackMeta,
    TrackSource,
    read_track_meta,
    with_meta,
    without_meta,
)
from schemas.events import TrackRef, utc_timestamp
from schemas.formats import CAPTION_FORMATS, KEPT_FORMAT
from schemas.ids import is_language_code
from schemas.manifest import Manifest

VTT_TYPE: Final = content_type_for(".vtt")
# The formats made from the kept WebVTT revision.
FOLLOWERS: Final = tuple(f for f in CAPTION_FORMATS if f != KEPT_FORMAT)
ATTEMPTS: Final = 20  # rounds of a read-check-write loop before giving up (contention)
_REVISION_FILE_RE: Final = re.compile(r"([1-9][0-9]{0,8})\.vtt")


class PreconditionRequired(Exception):
    """A change to a track named no revision to change (no If-Match, no If-None-Match)."""


@dataclass(frozen=True)
class CurrentTrack:
    """A track's current revision as stored: its ETag, what it says of itself, its text."""

    language: str
    etag: str
    meta: TrackMeta
    text: str


@dataclass(frozen=True)
class Revision:
    """One entry of a track's history."""

    meta: TrackMeta
    current: bool


def current_track(store: ObjectStore, video_id: str, language: str) -> CurrentTrack | None:
    """The track's current revision; None when the video has no track in `language`."""
    try:
        raw, etag = store.get_versioned(track_key(video_id, language, "vtt"))
    except FileNotFoundError:
        return None
    text = raw.decode("utf-8", "replace")
    meta = read_track_meta(text) or _older_track_meta(store, video_id, language)
    return CurrentTrack(language, etag, meta, text)


def current_tracks(
    store: ObjectStore, video_id: str, names: set[str] | None = None
) -> list[CurrentTrack]:
    """Every current track of the video, by language (`names`: the files of its captions
    folder, when the caller listed them already)."""
    languages = sorted(
        name.removesuffix(".vtt")
        for name in (names if names is not None else _names(store, video_id))
        if name.endswith(".vtt") and is_language_code(name[:-4])
    )
    found = (current_track(store, video_id, language) for language in languages)
    return [track for track in found if track is not None]


def history(store: ObjectStore, video_id: str, language: str) -> list[Revision]:
    """Every kept revision of the track, oldest first (a track that was never changed through
    this module, older than it, has only its current one)."""
    current = current_track(store, video_id, language)
    kept = {}
    for number in _kept_numbers(store, video_id, language):
        with store.open_range(revision_key(video_id, language, number), 0, 2047) as head:
            meta = read_track_meta(head.read().decode("utf-8", "replace"))
        if meta is not None:
            kept[number] = meta
    if current is not None:
        kept.setdefault(current.meta.revision, current.meta)
    now = current.meta.revision if current else None
    return [Revision(meta, number == now) for number, meta in sorted(kept.items())]


def save_track(
    store: ObjectStore,
    video_id: str,
    language: str,
    cues: Sequence[Cue],
    *,
    kind: Literal["captions", "subtitles"],
    if_match: str | None = None,
    if_none_match: bool = False,
) -> TrackChange:
    """A person's revision of the track, made current.

    Replacing a track needs `if_match`, its current ETag ("*": whatever is current); adding a
    language needs `if_none_match`. Raises `PreconditionRequired` without either, and
    `PreconditionFailed` when the track moved on (or exists, or is gone); then nothing changed.
    `kind` applies to a new track; a replaced one keeps its own.
    """
    current = current_track(store, video_id, language)
    check_preconditions(current, language, if_match, if_none_match)
    if current is not None:
        _keep(store, video_id, current)
        kind = current.meta.kind
    source = current.meta.source if current is not None else None  # a translation stays one
    meta, text = _claim(store, video_id, language, cues, generated=False, kind=kind, source=source)
    try:
        etag = _replace_current(store, video_id, language, text, current)
    except PreconditionFailed:
        store.delete(revision_key(video_id, language, meta.revision))  # it never was current
        raise
    sync_track(store, video_id, language, formats=CAPTION_FORMATS)  # a person's: every format
    return TrackChange(language, "replaced", meta, True, etag)


def check_preconditions(
    current: CurrentTrack | None, language: str, if_match: str | None, if_none_match: bool
) -> None:
    """A change to the track in `language` (`current`: as it is now) names what it replaces:
    its ETag in `if_match` ("*": whatever is current), or `if_none_match` for a new language.
    `PreconditionRequired` without either, `PreconditionFailed` when it does not hold."""
    if if_match is None and not if_none_match:
        raise PreconditionRequired("name the revision to replace (If-Match) or If-None-Match: *")
    if current is None and if_match is not None:
        raise PreconditionFailed(f"there is no {language} track to replace")
    if current is not None:
        if if_match is None:
            raise PreconditionFailed(f"there is a {language} track already")
        if if_match not in ("*", current.etag):
            raise PreconditionFailed(f"the {language} track changed since ETag {if_match!r}")


def delete_track(
    store: ObjectStore, video_id: str, language: str, *, if_match: str | None = None
) -> TrackChange:
    """Take the track out of service (its revisions stay). `FileNotFoundError` when there is
    none; `PreconditionFailed` when `if_match` is given and no longer current."""
    current = current_track(store, video_id, language)
    if current is None:
        raise FileNotFoundError(f"no {language} track of video {video_id!r}")
    if if_match not in (None, "*", current.etag):
        raise PreconditionFailed(f"the {language} track changed since ETag {if_match!r}")
    _keep(store, video_id, current)
    store.delete(track_key(video_id, language, "vtt"))
    sync_track(store, video_id, language)
    return TrackChange(language, "deleted", current.meta, False)


def retire_tracks(store: ObjectStore, video_id: str) -> None:
    """Take every track of the video out of service, keeping its revisions (a new upload under
    the same id is captioned afresh; the old captions belong to the old media)."""
    for track in current_tracks(store, video_id):
        _keep(store, video_id, track)
        for fmt in CAPTION_FORMATS:
            store.delete(track_key(video_id, track.language, fmt))


def commit_generated(
    store: ObjectStore,
    video_id: str,
    language: str,
    cues: Sequence[Cue],
    *,
    kind: Literal["captions", "subtitles"],
    formats: Sequence[str] = CAPTION_FORMATS,
    manifest: bool = True,
    source: TrackSource | None = None,
) -> TrackChange | None:
    """A model's track: a new revision, current unless a person's revision is. None when the
    current revision is a model's with these very cues from the same source (a replay):
    nothing is made. `formats`: the caption formats the track is served in (WebVTT is kept
    either way). `manifest=False`: the caller brings the manifest in line itself, after its
    tracks. `source`: what a translation was made from."""
    return _commit(
        store,
        video_id,
        language,
        cues,
        change="generated",
        generated=True,
        kind=kind,
        source=source,
        replay=lambda meta: meta.generated and meta.source == source,
        behind=lambda meta: not meta.generated,  # a person's revision stays current
        formats=formats,
        manifest=manifest,
    )


def commit_aligned(
    store: ObjectStore,
    video_id: str,
    language: str,
    cues: Sequence[Cue],
    *,
    alignment: tuple[int, int],
    asked_at: str | None,
    formats: Sequence[str] = CAPTION_FORMATS,
    manifest: bool = True,
) -> TrackChange | None:
    """A person's words timed by alignment (a supplied transcript, or an edit re-timed): a
    new revision that is not a model's (`generated` false, maker "aligned"), made current,
    unless a person saved a revision after the alignment was asked for (`asked_at`, a UTC
    timestamp): that later edit stays current. None when the current revision is an
    alignment with these very cues (a replay): nothing is made. `alignment`: (words placed by
    alignment, words interpolated)."""
    return _commit(
        store,
        video_id,
        language,
        cues,
        change="replaced",
        generated=False,
        kind=None,
        alignment=alignment,
        replay=lambda meta: meta.alignment is not None,
        behind=lambda meta: _edited_after(meta, asked_at),
        formats=formats,
        manifest=manifest,
    )


def _commit(
    store: ObjectStore,
    video_id: str,
    language: str,
    cues: Sequence[Cue],
    *,
    change: Literal["generated", "replaced"],
    generated: bool,
    kind: Literal["captions", "subtitles"] | None,
    replay: Callable[[TrackMeta], bool],
    behind: Callable[[TrackMeta], bool],
    formats: Sequence[str],
    manifest: bool,
    source: TrackSource | None = None,
    alignment: tuple[int, int] | None = None,
) -> TrackChange | None:
    """A new revision, made current unless the current one is to stay (`behind(its meta)`:
    the new one is then kept behind it); None when the current revision is a replay of this
    one (`replay(its meta)` and the same cues). `kind` None: the current track's (else
    captions). Retried while the track moves under it."""
    body = write_vtt(cues, language)
    claimed: tuple[TrackMeta, str] | None = None
    for _ in range(ATTEMPTS):
        current = current_track(store, video_id, language)
        if current is not None and claimed is None:
            if replay(current.meta) and without_meta(current.text) == body:
                sync_track(store, video_id, language, formats=formats, manifest=manifest)
                return None
            _keep(store, video_id, current)
        if claimed is None:
            made_kind = kind or (current.meta.kind if current is not None else "captions")
            claimed = _claim(
                store,
                video_id,
                language,
                cues,
                generated=generated,
                kind=made_kind,
                source=source,
                alignment=alignment,
            )
        meta, text = claimed
        if current is not None and behind(current.meta):
            return TrackChange(language, change, meta, False)
        try:
            etag = _replace_current(store, video_id, language, text, current)
        except PreconditionFailed:
            continue  # the track moved meanwhile: look again
        made = CurrentTrack(language, etag, meta, text)
        sync_track(store, video_id, language, formats=formats, manifest=manifest, known=made)
        return TrackChange(language, change, meta, True, etag)
    raise RuntimeError(f"the {language} track of {video_id!r} kept changing; not committed")


def _edited_after(meta: TrackMeta, asked_at: str | None) -> bool:
    """Whether `meta` is a person's own revision (not an alignment) made after `asked_at`."""
    if meta.generated or meta.alignment is not None or asked_at is None:
        return False
    try:
        return _moment(meta.updated_at) > _moment(asked_at)
    except ValueError:
        return False


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def sync_track(
    store: ObjectStore,
    video_id: str,
    language: str,
    *,
    formats: Sequence[str] | None = None,
    manifest: bool = True,
    known: CurrentTrack | None = None,
) -> None:
    """Bring the track's other formats (`.srt`, `.ttml`, ...) and the manifest's entries in
    line with the current `.vtt`.

    `formats`: the caption formats the track is served in (None: those it has already); the
    manifest unless `manifest` is False. Repeats until the `.vtt` stayed as it was read, so the
    last of several writers leaves all in line. `known`: the current revision as its writer
    just wrote it (one read fewer).
    """
    for _ in range(ATTEMPTS):
        current, known = known or current_track(store, video_id, language), None
        if current is None:
            for fmt in FOLLOWERS:
                store.delete(track_key(video_id, language, fmt))
        else:
            followers = _followers(store, video_id, language, formats)
            cues = read_caption_file(without_meta(current.text).encode("utf-8"))
            for fmt in followers:
                key = track_key(video_id, language, fmt)
                text = write_caption_track(fmt, cues, language)
                store.put_bytes(key, text.encode("utf-8"), content_type_for(key))
        if manifest:
            sync_manifest(store, video_id)
        after = current_track(store, video_id, language)
        if (after.etag if after else None) == (current.etag if current else None):
            return
    raise RuntimeError(f"the {language} track of {video_id!r} kept changing; not in line")


def sync_manifest(
    store: ObjectStore, video_id: str, base: Manifest | None = None
) -> Manifest | None:
    """The manifest with its caption tracks as the current `.vtt` files are, written with a
    conditional write (retried when someone else wrote it meanwhile). `base`: the manifest to
    write (the pipeline's, after captioning); None: the stored one. A missing or failed
    manifest is left alone, unless `base` is given. Returns what is stored."""
    key = manifest_key(video_id)
    for _ in range(ATTEMPTS):
        try:
            raw, etag = store.get_versioned(key)
            stored: Manifest | None = Manifest.from_json(raw)
        except FileNotFoundError:
            stored, etag = None, None
        manifest = base or stored
        if manifest is None or manifest.status != "ready":
            return stored
        updated = replace(manifest, tracks=_track_refs(store, video_id, manifest))
        if stored is not None and stored.to_dict() == updated.to_dict():
            return stored
        try:
            data = updated.to_json().encode("utf-8")
            store.put_if(
                key, data, content_type_for(key), if_match=etag, if_none_match=etag is None
            )
        except PreconditionFailed:
            continue
        return updated
    raise RuntimeError(f"the manifest of {video_id!r} kept changing; not written")


def track_refs(
    store: ObjectStore, video_id: str, track: CurrentTrack, formats: Sequence[str]
) -> list[TrackRef]:
    """The manifest entries of one current track, one per format in `formats`."""
    meta = track.meta
    refs = []
    for fmt in formats:
        key = track_key(video_id, track.language, fmt)
        refs.append(
            TrackRef(
                track.language,
                meta.kind,
                fmt,
                store.uri(key),
                key,
                meta.revision,
                meta.generated,
                meta.updated_at,
                meta.source,
                maker="aligned" if meta.alignment is not None else None,
                aligned=meta.alignment[0] if meta.alignment is not None else None,
                interpolated=meta.alignment[1] if meta.alignment is not None else None,
            )
        )
    return refs


def _track_refs(store: ObjectStore, video_id: str, manifest: Manifest) -> tuple[TrackRef, ...]:
    """Entries for every current track (the spoken language first), in each format it is
    stored in, then the translations that failed and have no track, then transcript.json."""
    names = _names(store, video_id)
    tracks = current_tracks(store, video_id, names)
    tracks.sort(key=lambda t: (t.language != manifest.language, t.language))
    refs: list[TrackRef] = []
    for track in tracks:
        stored = tuple(f for f in CAPTION_FORMATS if f"{track.language}.{f}" in names)
        refs += track_refs(store, video_id, track, stored)
    made = {track.language for track in tracks}
    failed = (t for t in manifest.tracks if t.status == "failed" and t.language not in made)
    return (*refs, *failed, *(t for t in manifest.tracks if t.format == "json"))


def _followers(
    store: ObjectStore, video_id: str, language: str, formats: Sequence[str] | None
) -> list[str]:
    """The formats to write from the current `.vtt`: `formats` (None: those stored now)."""
    if formats is not None:
        return [f for f in FOLLOWERS if f in formats]
    return [f for f in FOLLOWERS if store.exists(track_key(video_id, language, f))]


def _names(store: ObjectStore, video_id: str) -> set[str]:
    """The names of the files directly in the video's captions folder."""
    prefix = captions_prefix(video_id)
    return {name for name in (key[len(prefix) :] for key in store.list(prefix)) if "/" not in name}


def _claim(
    store: ObjectStore,
    video_id: str,
    language: str,
    cues: Sequence[Cue],
    *,
    generated: bool,
    kind: Literal["captions", "subtitles"],
    source: TrackSource | None = None,
    alignment: tuple[int, int] | None = None,
) -> tuple[TrackMeta, str]:
    """A new revision written under the next free number, claimed by a conditional create."""
    kept = _kept_numbers(store, video_id, language)
    number = max(kept, default=0) + 1
    for _ in range(ATTEMPTS * 5):
        meta = TrackMeta(number, generated, kind, utc_timestamp(), source, alignment)
        text = write_vtt(cues, language, [meta.note()])
        try:
            key = revision_key(video_id, language, number)
            store.put_if(key, text.encode("utf-8"), VTT_TYPE, if_none_match=True)
        except PreconditionFailed:
            number += 1  # claimed by someone else meanwhile
            continue
        return meta, text
    raise RuntimeError(f"no free revision number for the {language} track of {video_id!r}")


def _replace_current(
    store: ObjectStore, video_id: str, language: str, text: str, current: CurrentTrack | None
) -> str:
    key = track_key(video_id, language, "vtt")
    data = text.encode("utf-8")
    if current is None:
        return store.put_if(key, data, VTT_TYPE, if_none_match=True)
    return store.put_if(key, data, VTT_TYPE, if_match=current.etag)


def _keep(store: ObjectStore, video_id: str, current: CurrentTrack) -> None:
    """Make sure the current revision is kept (tracks older than this module were not)."""
    key = revision_key(video_id, current.language, current.meta.revision)
    if not store.exists(key):
        text = with_meta(current.text, current.meta)
        # kept meanwhile by another writer: fine, a revision's text never changes
        with contextlib.suppress(PreconditionFailed):
            store.put_if(key, text.encode("utf-8"), VTT_TYPE, if_none_match=True)


def _kept_numbers(store: ObjectStore, video_id: str, language: str) -> list[int]:
    prefix = revisions_prefix(video_id, language)
    names = (key[len(prefix) :] for key in store.list(prefix))
    return sorted(int(m.group(1)) for m in map(_REVISION_FILE_RE.fullmatch, names) if m)


def _older_track_meta(store: ObjectStore, video_id: str, language: str) -> TrackMeta:
    """What a track written before revisions existed is taken for: a model's first revision,
    of the kind its manifest says, made when its file was."""
    kind: Literal["captions", "subtitles"] = "captions"
    try:
        manifest = Manifest.from_json(store.get_bytes(manifest_key(video_id)))
        kind = next((t.kind for t in manifest.tracks if t.language == language), kind)
    except (FileNotFoundError, ValueError):
        pass
    try:
        modified = store.stat(track_key(video_id, language, "vtt")).modified
    except FileNotFoundError:
        return TrackMeta(1, True, kind, utc_timestamp())
    return TrackMeta(1, True, kind, utc_timestamp(modified))
