"""The file object store, the storage layout and local sources, on real files."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from connectors.storage import open_store
from connectors.storage.file_store import FileStore
from connectors.storage.layout import (
    caption_key,
    captions_prefix,
    manifest_key,
    upload_key,
    validate_key,
)
from connectors.storage.sources import resolve_source
from connectors.storage.store import ObjectStore
from schemas import CaptionError, ErrorCode


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "store")


# --- the store --------------------------------------------------------------------------------


def test_file_store_is_an_object_store(store):
    assert isinstance(store, ObjectStore)


def test_put_then_get_exists_and_uri(store):
    uri = store.put_bytes("captions/abc/en.vtt", b"WEBVTT\n", "text/vtt")
    assert uri == (store.root / "captions/abc/en.vtt").as_uri() == store.uri("captions/abc/en.vtt")
    assert uri.startswith("file:///")
    assert store.get_bytes("captions/abc/en.vtt") == b"WEBVTT\n"
    assert store.exists("captions/abc/en.vtt")
    assert not store.exists("captions/abc/de.vtt")
    assert not store.exists("captions/abc")  # a folder is not an object


def test_put_replaces_an_existing_object(store):
    store.put_bytes("a/b.txt", b"old")
    store.put_bytes("a/b.txt", b"new")
    assert store.get_bytes("a/b.txt") == b"new"


def test_missing_object_is_file_not_found(store):
    with pytest.raises(FileNotFoundError):
        store.get_bytes("nope.txt")
    with pytest.raises(FileNotFoundError):
        store.open_read("nope.txt")


def test_open_read_streams(store):
    store.put_bytes("v/x.bin", bytes(range(256)) * 100)
    with store.open_read("v/x.bin") as stream:
        assert stream.read(256) == bytes(range(256))
        assert len(stream.read()) == 256 * 99


def test_put_file_copies_a_local_file(store, tmp_path):
    local = tmp_path / "talk.mp4"
    local.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    uri = store.put_file("videos/talk/talk.mp4", local, "video/mp4")
    assert uri.endswith("/videos/talk/talk.mp4")
    assert store.get_bytes("videos/talk/talk.mp4") == local.read_bytes()


def test_list_is_sorted_and_filters_by_string_prefix(store):
    for key in ["captions/b/en.vtt", "captions/a/en.vtt", "captions/ab/en.vtt", "videos/a/a.mp4"]:
        store.put_bytes(key, b"x")
    assert list(store.list("captions/a")) == ["captions/a/en.vtt", "captions/ab/en.vtt"]
    assert list(store.list("captions/a/")) == ["captions/a/en.vtt"]
    assert list(store.list("")) == [
        "captions/a/en.vtt",
        "captions/ab/en.vtt",
        "captions/b/en.vtt",
        "videos/a/a.mp4",
    ]
    assert list(store.list("nothing/")) == []


def test_list_of_a_store_never_written_is_empty(tmp_path):
    assert list(FileStore(tmp_path / "absent").list("")) == []


def test_delete_removes_the_object_and_empty_folders(store):
    store.put_bytes("captions/abc/en.vtt", b"x")
    store.put_bytes("captions/keep/en.vtt", b"x")
    store.delete("captions/abc/en.vtt")
    store.delete("captions/abc/en.vtt")  # deleting twice is fine
    assert not store.exists("captions/abc/en.vtt")
    assert not (store.root / "captions/abc").exists()
    assert list(store.list("")) == ["captions/keep/en.vtt"]


def test_a_write_in_flight_is_never_listed_nor_visible(store, tmp_path):
    store.put_bytes("captions/abc/manifest.json", b"old")
    fifo = tmp_path / "slow-source"
    os.mkfifo(fifo)  # put_file reads it while the test decides when the data ends
    writer = threading.Thread(target=store.put_file, args=("captions/abc/manifest.json", fifo))
    writer.start()
    with open(fifo, "wb") as feed:
        feed.write(b"new-")
        feed.flush()
        folder = store.root / "captions/abc"
        for _ in range(500):  # wait until the partial file exists
            if len(list(folder.iterdir())) == 2:
                break
            threading.Event().wait(0.01)
        on_disk = sorted(p.name for p in folder.iterdir())
        listed = list(store.list("captions/"))
        during = store.get_bytes("captions/abc/manifest.json")
        feed.write(b"rest")
    writer.join(5)
    assert len(on_disk) == 2 and any(n.endswith(".partial") for n in on_disk)
    assert listed == ["captions/abc/manifest.json"]
    assert during == b"old"  # readers see the old object until the rename
    assert store.get_bytes("captions/abc/manifest.json") == b"new-rest"
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json"]


def test_a_failed_write_leaves_no_partial_file(store):
    store.put_bytes("a/x", b"old")

    def broken(out):
        out.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store._write("a/x", broken)
    assert store.get_bytes("a/x") == b"old"
    assert [p.name for p in (store.root / "a").iterdir()] == ["x"]


# --- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "../x",
        "a/../../x",
        "a/..",
        "/etc/passwd",
        "a//b",
        "a/./b",
        "a/",
        "",
        "a\\b",
        "..\\x",
        "a\x00b",
        "a\nb",
        "a/.b.0123456789abcdef0123456789abcdef.partial",
        "x" * 1025,
    ],
)
def test_unsafe_keys_are_refused_everywhere(store, key):
    with pytest.raises(ValueError):
        validate_key(key)
    for call in (store.get_bytes, store.exists, store.delete, store.uri):
        with pytest.raises(ValueError):
            call(key)
    with pytest.raises(ValueError):
        store.put_bytes(key, b"x")
    assert not (store.root.parent / "x").exists()


@pytest.mark.parametrize("prefix", ["../", "/etc", "a/../..", "a\\"])
def test_unsafe_list_prefixes_are_refused(store, prefix):
    with pytest.raises(ValueError):
        list(store.list(prefix))


def test_symlink_out_of_the_root_is_refused(store, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    store.root.mkdir(parents=True)
    (store.root / "escape").symlink_to(outside, target_is_directory=True)
    (store.root / "file-link").symlink_to(outside / "secret.txt")
    with pytest.raises(ValueError, match="outside"):
        store.get_bytes("escape/secret.txt")
    with pytest.raises(ValueError, match="outside"):
        store.get_bytes("file-link")
    with pytest.raises(ValueError, match="outside"):
        store.put_bytes("escape/new.txt", b"x")
    assert not (outside / "new.txt").exists()
    assert list(store.list("")) == []


def test_symlink_inside_the_root_is_followed(store):
    store.put_bytes("real/a.txt", b"a")
    (store.root / "alias").symlink_to(store.root / "real", target_is_directory=True)
    assert store.get_bytes("alias/a.txt") == b"a"


# --- open_store -------------------------------------------------------------------------------


def test_open_store_takes_file_urls_and_plain_paths(tmp_path):
    by_url = open_store((tmp_path / "s").as_uri())
    by_path = open_store(str(tmp_path / "s"))
    assert isinstance(by_url, FileStore) and isinstance(by_path, FileStore)
    assert by_url.url == by_path.url == (tmp_path / "s").as_uri()
    by_url.put_bytes("k", b"v")
    assert by_path.get_bytes("k") == b"v"


def test_open_store_decodes_percent_escapes(tmp_path):
    store = open_store((tmp_path / "with space").as_uri())
    assert isinstance(store, FileStore) and store.root == tmp_path / "with space"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "http://host/x",
        "gs://bucket/x",
        "file://host/x",
        "s3://",
        "s3://Bucket/x",
        "s3://ab/x",
        "s3://user@bucket/x",
        "s3://bucket/a/../b",
        "s3://bucket/a//b",
    ],
)
def test_open_store_refuses_urls_it_cannot_open(url):
    with pytest.raises(ValueError, match="storage URL"):
        open_store(url)


# --- layout -----------------------------------------------------------------------------------


def test_layout_keys():
    assert upload_key("abc", "talk.mp4") == "videos/abc/talk.mp4"
    assert caption_key("abc", "en.vtt") == "captions/abc/en.vtt"
    assert caption_key("abc", "transcript.json") == "captions/abc/transcript.json"
    assert manifest_key("abc") == "captions/abc/manifest.json"
    assert captions_prefix("abc") == "captions/abc/"


@pytest.mark.parametrize("video_id", ["../x", "a/b", "..", ""])
def test_layout_refuses_unsafe_video_ids(video_id):
    for make in (lambda: manifest_key(video_id), lambda: caption_key(video_id, "en.vtt")):
        with pytest.raises(CaptionError) as info:
            make()
        assert info.value.code == ErrorCode.INVALID_EVENT


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "", "a\\b"])
def test_layout_refuses_file_names_that_are_not_one_segment(name):
    with pytest.raises(ValueError):
        upload_key("abc", name)
    with pytest.raises(ValueError):
        caption_key("abc", name)


# --- sources ----------------------------------------------------------------------------------


@pytest.fixture
def media(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    (root / "talk one.mp4").write_bytes(b"\x00")
    return root


def test_plain_path_and_file_uri_resolve_to_the_same_file(media):
    path = media / "talk one.mp4"
    assert resolve_source(str(path)) == path
    assert resolve_source(path.as_uri()) == path  # percent-encoded
    assert resolve_source("file://" + str(path)) == path  # raw space, as typed


def test_relative_paths_are_taken_from_the_working_directory(media, monkeypatch):
    monkeypatch.chdir(media)
    assert resolve_source("talk one.mp4") == media / "talk one.mp4"


def test_file_root_confines_sources(media, tmp_path):
    (tmp_path / "secret.mp4").write_bytes(b"\x00")
    assert resolve_source(str(media / "talk one.mp4"), file_root=media) == media / "talk one.mp4"
    for source in [
        str(tmp_path / "secret.mp4"),
        (tmp_path / "secret.mp4").as_uri(),
        f"file://{media}/../secret.mp4",
        "file:///etc/passwd",
    ]:
        with pytest.raises(CaptionError) as info:
            resolve_source(source, file_root=media)
        assert info.value.code == ErrorCode.INVALID_EVENT, source
        assert "outside" in info.value.message


def test_symlink_out_of_file_root_is_refused(media, tmp_path):
    (tmp_path / "secret.mp4").write_bytes(b"\x00")
    (media / "link.mp4").symlink_to(tmp_path / "secret.mp4")
    with pytest.raises(CaptionError) as info:
        resolve_source(str(media / "link.mp4"), file_root=media)
    assert info.value.code == ErrorCode.INVALID_EVENT


def test_outside_root_is_refused_before_existence_is_told(media):
    with pytest.raises(CaptionError) as info:
        resolve_source("/no/such/file.mp4", file_root=media)
    assert info.value.code == ErrorCode.INVALID_EVENT


@pytest.mark.parametrize("name", ["missing.mp4", "."])
def test_missing_or_not_a_file_is_source_not_found(media, name):
    with pytest.raises(CaptionError) as info:
        resolve_source(str(media / name))
    assert info.value.code == ErrorCode.SOURCE_NOT_FOUND


@pytest.mark.parametrize(
    "source",
    [
        "http://example.com/v.mp4",
        "https://example.com/v.mp4",
        "ftp://host/v.mp4",
        "data:video/mp4;base64,AAAA",
        "file://host/v.mp4",
        "file:relative.mp4",
        "",
        "a\x00b",
    ],
)
def test_unsupported_sources_are_invalid_event(source):
    with pytest.raises(CaptionError) as info:
        resolve_source(source)
    assert info.value.code == ErrorCode.INVALID_EVENT


def test_s3_sources_are_staged_by_local_source_not_resolved():
    with pytest.raises(CaptionError, match="local_source") as info:
        resolve_source("s3://bucket/key.mp4")
    assert info.value.code == ErrorCode.INVALID_EVENT
