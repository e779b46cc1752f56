"""Caption tracks as revisions in a real local folder: every revision kept, numbers never
shared, a person's revision never replaced by a model's, racing saves settled by conditional
writes (threads and separate processes), and the .srt and manifest following the .vtt."""

from __future__ import annotations

import json
import multiprocessing
import threading
from pathlib import Path

import pytest

from captions.cues import Cue
from captions.formats import write_vtt
from captions.reading import read_caption_file
from connectors.storage.file_store import FileStore
from connectors.storage.store import PreconditionFailed
from library.revisions import (
    PreconditionRequired,
    commit_aligned,
    commit_generated,
    current_track,
    delete_track,
    history,
    retire_tracks,
    save_track,
    sync_manifest,
)
from library.track_meta import read_track_meta
from schemas.manifest import Manifest
from tests.ttml_reader import assert_ttml_matches_vtt
from tests.webvtt_validator import assert_w3c_valid

V = "talk"


def cues(*texts: str) -> list[Cue]:
    return [Cue(float(i), i + 0.9, (text,), ()) for i, text in enumerate(texts)]


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    store = FileStore(tmp_path / "storage")
    manifest = Manifest.ready(
        V, "file:///videos/talk.mp4", duration_s=30.0, language="en", tracks=(), model="m", cues=1
    )
    store.put_bytes(f"captions/{V}/manifest.json", manifest.to_json().encode())
    return store


def manifest_tracks(store: FileStore) -> list[dict]:
    return json.loads(store.get_bytes(f"captions/{V}/manifest.json"))["tracks"]


def test_a_models_first_track_is_revision_one_and_kept(store: FileStore) -> None:
    change = commit_generated(store, V, "en", cues("hello"), kind="captions")
    assert change is not None and change.current and change.meta.revision == 1
    track = current_track(store, V, "en")
    assert track is not None and track.meta.generated and track.etag == change.etag
    assert store.exists(f"captions/{V}/revisions/en/1.vtt")
    assert "hello" in store.get_bytes(f"captions/{V}/en.srt").decode()
    (vtt, srt, ttml) = manifest_tracks(store)
    assert (vtt["format"], vtt["revision"], vtt["generated"]) == ("vtt", 1, True)
    assert (srt["format"], srt["revision"]) == ("srt", 1)
    assert (ttml["format"], ttml["revision"]) == ("ttml", 1)


def test_a_replay_with_the_same_cues_makes_no_revision(store: FileStore) -> None:
    commit_generated(store, V, "en", cues("hello"), kind="captions")
    assert commit_generated(store, V, "en", cues("hello"), kind="captions") is None
    assert [r.meta.revision for r in history(store, V, "en")] == [1]


def test_a_persons_save_needs_the_current_etag(store: FileStore) -> None:
    first = commit_generated(store, V, "en", cues("helo"), kind="captions")
    assert first is not None
    with pytest.raises(PreconditionRequired):
        save_track(store, V, "en", cues("hello"), kind="captions")
    with pytest.raises(PreconditionFailed):
        save_track(store, V, "en", cues("hello"), kind="captions", if_match="stale")
    with pytest.raises(PreconditionFailed):  # a track exists: If-None-Match is not enough
        save_track(store, V, "en", cues("hello"), kind="captions", if_none_match=True)
    saved = save_track(store, V, "en", cues("hello"), kind="captions", if_match=first.etag)
    assert saved.meta.revision == 2 and not saved.meta.generated and saved.current
    assert "hello" in store.get_bytes(f"captions/{V}/en.srt").decode()
    assert manifest_tracks(store)[0]["generated"] is False
    # The model's revision is still there, as it was.
    kept = store.get_bytes(f"captions/{V}/revisions/en/1.vtt").decode()
    assert "helo" in kept and read_track_meta(kept).generated  # type: ignore[union-attr]


def test_a_new_language_needs_if_none_match_and_is_subtitles(store: FileStore) -> None:
    with pytest.raises(PreconditionFailed):
        save_track(store, V, "de", cues("hallo"), kind="subtitles", if_match="*")
    change = save_track(store, V, "de", cues("hallo"), kind="subtitles", if_none_match=True)
    assert change.meta.revision == 1 and change.meta.kind == "subtitles"
    assert [t["language"] for t in manifest_tracks(store)] == ["de", "de", "de"]


def test_a_model_never_replaces_a_persons_revision(store: FileStore) -> None:
    first = commit_generated(store, V, "en", cues("one"), kind="captions")
    assert first is not None
    save_track(store, V, "en", cues("two"), kind="captions", if_match=first.etag)
    again = commit_generated(store, V, "en", cues("three"), kind="captions")
    assert again is not None and again.meta.revision == 3 and not again.current
    track = current_track(store, V, "en")
    assert track is not None and track.meta.revision == 2 and "two" in track.text
    assert [(r.meta.revision, r.meta.generated, r.current) for r in history(store, V, "en")] == [
        (1, True, False),
        (2, False, True),
        (3, True, False),
    ]


def test_aligned_words_replace_a_track_unless_a_person_saved_after_they_were_asked(
    store: FileStore,
) -> None:
    first = commit_generated(store, V, "en", cues("one"), kind="captions")
    assert first is not None
    aligned = commit_aligned(
        store, V, "en", cues("One."), alignment=(1, 0), asked_at="2020-01-01T00:00:00.000Z"
    )
    assert aligned is not None and aligned.current and aligned.meta.maker == "aligned"
    assert commit_aligned(store, V, "en", cues("One."), alignment=(1, 0), asked_at=None) is None
    behind = commit_generated(store, V, "en", cues("model"), kind="captions")
    assert behind is not None and not behind.current  # a model never replaces aligned words
    entry = next(t for t in manifest_tracks(store) if t["format"] == "vtt")
    assert entry["maker"] == "aligned" and entry["generated"] is False and entry["aligned"] == 1
    current = current_track(store, V, "en")
    assert current is not None
    save_track(store, V, "en", cues("a person's"), kind="captions", if_match=current.etag)
    late = commit_aligned(
        store, V, "en", cues("Late."), alignment=(1, 0), asked_at="2020-01-01T00:00:00.000Z"
    )
    assert late is not None and not late.current  # asked before the person's save: kept behind
    track = current_track(store, V, "en")
    assert track is not None and "a person's" in track.text


def test_a_models_revision_replaces_a_models(store: FileStore) -> None:
    commit_generated(store, V, "en", cues("one"), kind="captions")
    again = commit_generated(store, V, "en", cues("uno"), kind="captions")
    assert again is not None and again.current and again.meta.revision == 2


def test_of_racing_saves_from_one_etag_exactly_one_lands(store: FileStore) -> None:
    first = commit_generated(store, V, "en", cues("base"), kind="captions")
    assert first is not None
    outcomes: list[str] = []

    def save(n: int) -> None:
        try:
            save_track(store, V, "en", cues(f"edit {n}"), kind="captions", if_match=first.etag)
            outcomes.append(f"won {n}")
        except PreconditionFailed:
            outcomes.append("lost")

    threads = [threading.Thread(target=save, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [o for o in outcomes if o.startswith("won")]
    assert len(winners) == 1 and outcomes.count("lost") == 11
    track = current_track(store, V, "en")
    assert track is not None and f"edit {winners[0].split()[1]}" in track.text
    # The losers left no revision behind: the model's and the winner's (numbers are claimed
    # before the race is decided, so the winner's may be any of the numbers after 1).
    kept = [(r.meta.revision, r.meta.generated, r.current) for r in history(store, V, "en")]
    assert len(kept) == 2 and kept[0] == (1, True, False) and kept[1][1:] == (False, True)


def _save_in_a_process(root: str, etag: str, n: int, results: multiprocessing.Queue) -> None:
    store = FileStore(root)
    try:
        save_track(store, V, "en", cues(f"edit {n}"), kind="captions", if_match=etag)
        results.put("won")
    except PreconditionFailed:
        results.put("lost")


def test_racing_saves_from_separate_processes_too(store: FileStore) -> None:
    first = commit_generated(store, V, "en", cues("base"), kind="captions")
    assert first is not None
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    processes = [
        context.Process(target=_save_in_a_process, args=(str(store.root), first.etag, n, results))
        for n in range(6)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    outcomes = sorted(results.get(timeout=5) for _ in processes)
    assert outcomes == ["lost"] * 5 + ["won"]


def test_a_deleted_track_leaves_the_origin_and_keeps_its_revisions(store: FileStore) -> None:
    first = commit_generated(store, V, "en", cues("one"), kind="captions")
    assert first is not None
    with pytest.raises(PreconditionFailed):
        delete_track(store, V, "en", if_match="stale")
    change = delete_track(store, V, "en")
    assert change.change == "deleted" and change.meta.revision == 1 and not change.current
    assert not store.exists(f"captions/{V}/en.vtt") and not store.exists(f"captions/{V}/en.srt")
    assert manifest_tracks(store) == []
    assert [r.meta.revision for r in history(store, V, "en")] == [1]
    with pytest.raises(FileNotFoundError):
        delete_track(store, V, "en")
    # A new track in the language numbers on after the kept ones.
    added = save_track(store, V, "en", cues("two"), kind="captions", if_none_match=True)
    assert added.meta.revision == 2


def test_a_track_older_than_revisions_is_kept_as_revision_one(store: FileStore) -> None:
    store.put_bytes(f"captions/{V}/en.vtt", write_vtt(cues("old"), "en").encode())
    track = current_track(store, V, "en")
    assert track is not None and track.meta.revision == 1 and track.meta.generated
    save_track(store, V, "en", cues("new"), kind="captions", if_match=track.etag)
    kept = store.get_bytes(f"captions/{V}/revisions/en/1.vtt").decode()
    assert "old" in kept and read_track_meta(kept) is not None


def test_retired_tracks_leave_their_revisions(store: FileStore) -> None:
    commit_generated(store, V, "en", cues("one"), kind="captions")
    retire_tracks(store, V)
    assert current_track(store, V, "en") is None
    assert [r.meta.revision for r in history(store, V, "en")] == [1]


def test_the_manifest_lists_every_current_track_spoken_language_first(store: FileStore) -> None:
    save_track(store, V, "de", cues("hallo"), kind="subtitles", if_none_match=True)
    commit_generated(store, V, "en", cues("hello"), kind="captions")
    assert [(t["language"], t["format"]) for t in manifest_tracks(store)] == [
        ("en", "vtt"),
        ("en", "srt"),
        ("en", "ttml"),
        ("de", "vtt"),
        ("de", "srt"),
        ("de", "ttml"),
    ]
    # A failed manifest is left alone.
    failed = Manifest.from_dict(
        {**json.loads(store.get_bytes(f"captions/{V}/manifest.json")), "status": "failed",
         "tracks": [], "error": {"code": "internal", "message": "x"}}
    )  # fmt: skip
    store.put_bytes(f"captions/{V}/manifest.json", failed.to_json().encode())
    assert sync_manifest(store, V) == failed


def test_a_persons_markup_is_kept_in_every_format_and_every_file_is_valid(
    store: FileStore,
) -> None:
    first = commit_generated(store, V, "en", cues("hello"), kind="captions")
    assert first is not None
    theirs = read_caption_file(
        b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<i>Off screen</i>, <v Roger Bingham>hello</v>\n"
    )
    save_track(store, V, "en", theirs, kind="captions", if_match=first.etag)
    vtt = store.get_bytes(f"captions/{V}/en.vtt").decode()
    assert "<i>Off screen</i>, <v Roger Bingham>hello</v>" in vtt
    assert "<i>Off screen</i>, hello" in store.get_bytes(f"captions/{V}/en.srt").decode()
    ttml = store.get_bytes(f"captions/{V}/en.ttml").decode()
    assert assert_ttml_matches_vtt(ttml, vtt, "en").cues[0].styled == {"italic": {"Off screen"}}
    kept = [store.get_bytes(f"captions/{V}/revisions/en/{n}.vtt").decode() for n in (1, 2)]
    assert_w3c_valid(vtt, *kept)  # model-made and person-made revisions alike
