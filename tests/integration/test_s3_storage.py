"""The S3 object store and s3:// source staging, against a real moto_server over HTTP.

The ObjectStore contract runs on FileStore and S3Store alike (with and without a key prefix),
so both backends answer the same assertions.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from connectors.storage import open_store
from connectors.storage.file_store import FileStore
from connectors.storage.s3_store import S3Store
from connectors.storage.sources import local_source
from connectors.storage.store import ObjectStore, PreconditionFailed
from schemas import CaptionError, ErrorCode

# --- one contract, every backend ----------------------------------------------------------------


@pytest.fixture(params=["file", "s3", "s3-prefixed"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "file":
        return FileStore(tmp_path / "store")
    bucket = request.getfixturevalue("bucket")
    prefix = "/deploy/prod" if request.param == "s3-prefixed" else ""
    return open_store(f"s3://{bucket}{prefix}")


def test_store_is_an_object_store(store):
    assert isinstance(store, ObjectStore)


def test_put_then_get_exists_and_uri(store):
    uri = store.put_bytes("captions/abc/en.vtt", b"WEBVTT\n", "text/vtt")
    assert uri == store.uri("captions/abc/en.vtt")
    assert uri.startswith(store.url + "/") and uri.endswith("/captions/abc/en.vtt")
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
    local.write_bytes(os.urandom(9 * 1024 * 1024 + 7))  # over s3transfer's multipart threshold
    uri = store.put_file("videos/talk/talk.mp4", local, "video/mp4")
    assert uri == store.uri("videos/talk/talk.mp4")
    assert store.get_bytes("videos/talk/talk.mp4") == local.read_bytes()


def test_list_is_sorted_relative_and_filters_by_string_prefix(store):
    for key in ["captions/b/en.vtt", "captions/a/en.vtt", "captions/ab/en.vtt", "videos/a/a.mp4"]:
        store.put_bytes(key, b"x")
    assert list(store.list("captions/a")) == ["captions/a/en.vtt", "captions/ab/en.vtt"]
    assert list(store.list("captions/a/")) == ["captions/a/en.vtt"]
    assert list(store.list()) == [
        "captions/a/en.vtt",
        "captions/ab/en.vtt",
        "captions/b/en.vtt",
        "videos/a/a.mp4",
    ]
    assert list(store.list("nothing/")) == []


def test_delete_removes_the_object_and_twice_is_fine(store):
    store.put_bytes("captions/abc/en.vtt", b"x")
    store.put_bytes("captions/keep/en.vtt", b"x")
    store.delete("captions/abc/en.vtt")
    store.delete("captions/abc/en.vtt")
    assert not store.exists("captions/abc/en.vtt")
    assert list(store.list()) == ["captions/keep/en.vtt"]


@pytest.mark.parametrize("key", ["../x", "a/../../x", "/etc/passwd", "a//b", "a/./b", "a\\b", ""])
def test_unsafe_keys_are_refused_before_any_request(store, key):
    calls: list[Callable[[], object]] = [
        lambda: store.get_bytes(key),
        lambda: store.open_read(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
        lambda: store.uri(key),
        lambda: store.put_bytes(key, b"x"),
    ]
    for call in calls:
        with pytest.raises(ValueError):
            call()


@pytest.mark.parametrize("prefix", ["../", "/etc", "a/../.."])
def test_unsafe_list_prefixes_are_refused(store, prefix):
    with pytest.raises(ValueError):
        list(store.list(prefix))


def test_conditional_writes_check_the_etag_atomically(store):
    with pytest.raises(ValueError):
        store.put_if("a/c.vtt", b"x")  # a condition is required
    first = store.put_if("a/c.vtt", b"one", "text/vtt", if_none_match=True)
    assert first == store.stat("a/c.vtt").etag == store.get_versioned("a/c.vtt")[1]
    with pytest.raises(PreconditionFailed):
        store.put_if("a/c.vtt", b"two", if_none_match=True)
    second = store.put_if("a/c.vtt", b"two", if_match=first)
    assert second != first and store.get_bytes("a/c.vtt") == b"two"
    with pytest.raises(PreconditionFailed):
        store.put_if("a/c.vtt", b"three", if_match=first)
    with pytest.raises(PreconditionFailed):
        store.put_if("a/none.vtt", b"x", if_match=first)
    assert store.get_bytes("a/c.vtt") == b"two" and not store.exists("a/none.vtt")


def test_of_conditional_writes_racing_on_one_etag_exactly_one_lands(store):
    etag = store.put_if("a/race.vtt", b"base", if_none_match=True)
    won: list[int] = []

    def write(n: int) -> None:
        try:
            store.put_if("a/race.vtt", f"write {n}".encode(), if_match=etag)
            won.append(n)
        except PreconditionFailed:
            pass

    threads = [threading.Thread(target=write, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and store.get_bytes("a/race.vtt") == f"write {won[0]}".encode()


def test_same_size_rewrites_get_new_etags(store):
    # Two versions of one size written within a clock tick still differ (content ETags).
    first = store.put_if("a/same.vtt", b"aaaa", if_none_match=True)
    second = store.put_if("a/same.vtt", b"bbbb", if_match=first)
    assert first != second
    with pytest.raises(PreconditionFailed):
        store.put_if("a/same.vtt", b"cccc", if_match=first)


# --- S3Store specifics --------------------------------------------------------------------------


def test_uri_and_url_name_bucket_and_prefix(bucket):
    plain, prefixed = open_store(f"s3://{bucket}/"), open_store(f"s3://{bucket}/deploy/prod/")
    assert isinstance(plain, S3Store) and isinstance(prefixed, S3Store)
    assert plain.url == f"s3://{bucket}"
    assert prefixed.url == f"s3://{bucket}/deploy/prod"
    assert plain.uri("captions/a/en.vtt") == f"s3://{bucket}/captions/a/en.vtt"
    assert prefixed.uri("captions/a/en.vtt") == f"s3://{bucket}/deploy/prod/captions/a/en.vtt"


def test_prefixed_store_writes_under_its_prefix_and_lists_only_it(bucket):
    prefixed = S3Store(bucket, "deploy/prod")
    prefixed.put_bytes("captions/a/en.vtt", b"x")
    S3Store(bucket).put_bytes("deploy/production/other", b"y")  # shares the string prefix
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys) == ["deploy/prod/captions/a/en.vtt", "deploy/production/other"]
    assert list(prefixed.list()) == ["captions/a/en.vtt"]


def test_content_type_is_stored(bucket):
    store = S3Store(bucket)
    store.put_bytes("a.vtt", b"WEBVTT\n", "text/vtt")
    store.put_bytes("b.json", b"{}", "application/json")
    client = boto3.client("s3")
    assert client.head_object(Bucket=bucket, Key="a.vtt")["ContentType"] == "text/vtt"
    assert client.head_object(Bucket=bucket, Key="b.json")["ContentType"] == "application/json"


def test_list_follows_pagination(bucket):
    store = S3Store(bucket, "p", page_size=7)
    keys = [f"k/{n:03d}" for n in range(30)]
    for key in reversed(keys):
        store.put_bytes(key, b"")
    assert list(store.list("k/")) == keys


def test_list_skips_objects_the_store_cannot_address(bucket):
    boto3.client("s3").put_object(Bucket=bucket, Key="a//b", Body=b"x")
    store = S3Store(bucket)
    store.put_bytes("a/c", b"x")
    assert list(store.list()) == ["a/c"]


def test_store_pickles_without_its_client_and_works_after(bucket):
    store = S3Store(bucket, "p")
    store.put_bytes("before", b"1")  # a client exists now
    blob = pickle.dumps(store)
    assert b"botocore" not in blob
    copy = pickle.loads(blob)
    assert copy.url == store.url
    assert copy.get_bytes("before") == b"1"
    copy.put_bytes("after", b"2")
    assert list(store.list()) == ["after", "before"]


def test_missing_bucket_is_file_not_found(s3_endpoint):
    store = S3Store("no-such-bucket-here")
    with pytest.raises(FileNotFoundError, match="no bucket"):
        store.get_bytes("x")
    assert not store.exists("x")


# --- local_source -------------------------------------------------------------------------------


def _temp_files(tmp_dir: Path) -> list[str]:
    return sorted(p.name for p in tmp_dir.iterdir())


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    folder = tmp_path / "staging"
    folder.mkdir()
    return folder


def test_s3_source_is_staged_into_a_temp_file_then_deleted(bucket, staging):
    media = os.urandom(3 * 1024 * 1024 + 11)  # several copy chunks
    S3Store(bucket).put_bytes("videos/talk/talk.mp4", media)
    source = f"s3://{bucket}/videos/talk/talk.mp4"
    with local_source(source, max_bytes=len(media), tmp_dir=str(staging)) as path:
        assert path.parent == staging and path.suffix == ".mp4"
        assert path.read_bytes() == media
    assert not path.exists()
    assert _temp_files(staging) == []


def test_staged_file_is_deleted_after_an_error_in_the_block(bucket, staging):
    S3Store(bucket).put_bytes("v.mp4", b"media")
    with (
        pytest.raises(RuntimeError, match="ffmpeg failed"),
        local_source(f"s3://{bucket}/v.mp4", tmp_dir=str(staging)) as path,
    ):
        assert path.exists()
        raise RuntimeError("ffmpeg failed")
    assert _temp_files(staging) == []


@pytest.mark.parametrize("key", ["missing.mp4", "videos/talk/missing.mp4"])
def test_missing_s3_object_is_source_not_found(bucket, staging, key):
    with (
        pytest.raises(CaptionError) as info,
        local_source(f"s3://{bucket}/{key}", tmp_dir=str(staging)),
    ):
        pytest.fail("nothing to stage")
    assert info.value.code == ErrorCode.SOURCE_NOT_FOUND
    assert _temp_files(staging) == []


def test_missing_bucket_is_source_not_found(s3_endpoint, staging):
    with (
        pytest.raises(CaptionError) as info,
        local_source("s3://no-such-bucket-here/v.mp4", tmp_dir=str(staging)),
    ):
        pytest.fail("nothing to stage")
    assert info.value.code == ErrorCode.SOURCE_NOT_FOUND


def test_object_over_max_bytes_is_unsupported_media_and_leaves_nothing(bucket, staging):
    S3Store(bucket).put_bytes("big.mp4", b"x" * 1000)
    with (
        pytest.raises(CaptionError) as info,
        local_source(f"s3://{bucket}/big.mp4", max_bytes=999, tmp_dir=str(staging)),
    ):
        pytest.fail("too big to stage")
    assert info.value.code == ErrorCode.UNSUPPORTED_MEDIA
    assert "object is 1000 bytes, over the 999-byte limit" in info.value.message
    assert _temp_files(staging) == []


def test_stream_over_max_bytes_is_cut_off_even_without_a_length(bucket, staging):
    # The size check on the stream itself, for servers that send no Content-Length.
    from connectors.storage import sources as storage

    S3Store(bucket).put_bytes("big.mp4", b"x" * (3 * storage.COPY_CHUNK_BYTES))
    store = S3Store(bucket)
    body, _ = store._open("big.mp4")
    with pytest.raises(CaptionError) as info:
        storage._stage(body, "s3://b/big.mp4", "big.mp4", storage.COPY_CHUNK_BYTES, str(staging))
    body.close()
    assert info.value.code == ErrorCode.UNSUPPORTED_MEDIA
    assert _temp_files(staging) == []


def test_file_sources_pass_through_unchanged(tmp_path):
    media = tmp_path / "talk one.mp4"
    media.write_bytes(b"\x00")
    for source in (str(media), media.as_uri()):
        with local_source(source, max_bytes=0) as path:
            assert path == media
    assert media.exists()  # never deleted: it is not a copy


def test_file_root_still_confines_local_sources(tmp_path):
    (tmp_path / "secret.mp4").write_bytes(b"\x00")
    root = tmp_path / "media"
    root.mkdir()
    with (
        pytest.raises(CaptionError) as info,
        local_source(str(tmp_path / "secret.mp4"), file_root=root),
    ):
        pytest.fail("outside the root")
    assert info.value.code == ErrorCode.INVALID_EVENT


@pytest.mark.parametrize(
    "source",
    ["http://example.com/v.mp4", "gs://bucket/v.mp4", "s3://Bad_Bucket/v.mp4", "s3://bucket/", ""],
)
def test_other_sources_are_invalid_event(source):
    with pytest.raises(CaptionError) as info, local_source(source):
        pytest.fail("not a source")
    assert info.value.code == ErrorCode.INVALID_EVENT


def test_default_temp_dir_is_the_systems(bucket):
    S3Store(bucket).put_bytes("v.ogg", b"OggS")
    with local_source(f"s3://{bucket}/v.ogg") as path:
        assert path.parent == Path(tempfile.gettempdir())
    assert not path.exists()
