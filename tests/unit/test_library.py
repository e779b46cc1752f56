"""The library's storage (`library.catalog`) and the playback tokens of private videos
(`gateway.tokens`), on a real local folder."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from connectors.storage.file_store import FileStore
from connectors.storage.layout import (
    RECENT_PREFIX,
    manifest_key,
    parse_recent_key,
    recent_key,
    record_key,
    tombstone_key,
    upload_key,
)
from gateway.tokens import TokenKeys, accepts, issue, load_public_key
from library.catalog import (
    VideoRecord,
    buried,
    bury,
    ensure_registered,
    is_known,
    list_videos,
    purge,
    register,
    tombstone_of,
)
from schemas.errors import ErrorCode, Failure
from schemas.manifest import Manifest

SECRET = "s" * 32


def _record(video_id: str, ms: int, name: str = "talk.mp4", private: bool = False) -> VideoRecord:
    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"
    return VideoRecord(video_id, name, at, private)


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path)


def test_index_keys_sort_newest_first_and_parse_back() -> None:
    older = recent_key(1_000, "a", "x.mp4")
    newer = recent_key(2_000, "b", "y.mp4")
    assert newer < older
    assert parse_recent_key(newer) == (2_000, "b", False, "y.mp4")
    assert parse_recent_key(recent_key(3_000, "c", "z.mp4", private=True)) == (
        3_000,
        "c",
        True,
        "z.mp4",
    )
    assert parse_recent_key("library/recent/garbage") is None
    with pytest.raises(ValueError):
        recent_key(1, "a", "x~y.mp4")


def test_a_folder_lists_a_page_after_a_key(store: FileStore) -> None:
    for name in ("a", "b", "c", "d"):
        store.put_bytes(f"library/recent/{name}", b"")
    assert store.list_page(RECENT_PREFIX, "", 2) == ["library/recent/a", "library/recent/b"]
    assert store.list_page(RECENT_PREFIX, "library/recent/b", 5) == [
        "library/recent/c",
        "library/recent/d",
    ]
    assert store.list_page("library/none/", "", 5) == []
    store.put_bytes("library/deep/x/y", b"")  # a nested folder: the general walk
    assert store.list_page("library/deep/", "", 5) == ["library/deep/x/y"]


def test_a_kept_folder_listing_sees_every_later_change(store: FileStore) -> None:
    for name in ("a", "b"):
        store.put_bytes(f"library/recent/{name}", b"")
    folder = store.root / "library" / "recent"
    settled = time.time_ns() - 10_000_000_000
    os.utime(folder, ns=(settled, settled))  # last changed 10 s ago: the listing is kept
    assert store.list_page(RECENT_PREFIX) == ["library/recent/a", "library/recent/b"]
    assert store.list_page(RECENT_PREFIX) == ["library/recent/a", "library/recent/b"]
    store.put_bytes("library/recent/c", b"")  # within the same second as the listing
    store.delete("library/recent/a")
    assert store.list_page(RECENT_PREFIX) == ["library/recent/b", "library/recent/c"]
    store.put_bytes("library/recent/d", b"")  # a folder changed just now is read each time
    assert store.list_page(RECENT_PREFIX)[-1] == "library/recent/d"


def test_pages_go_newest_first_and_an_upload_between_pages_moves_nothing(
    store: FileStore,
) -> None:
    for i in range(7):
        register(store, _record(f"v{i}", 1_000_000 + i * 1000, f"clip-{i}.mp4"))
    first = list_videos(store, limit=3)
    assert [v.record.video_id for v in first.videos] == ["v6", "v5", "v4"]
    assert first.after is not None
    register(store, _record("late", 9_000_000))  # a new upload while a client pages
    rest: list[str] = []
    after = first.after
    while after:
        page = list_videos(store, limit=3, after=after)
        rest += [v.record.video_id for v in page.videos]
        after = page.after or ""
    assert rest == ["v3", "v2", "v1", "v0"]
    assert list_videos(store, limit=1).videos[0].record.video_id == "late"


def test_search_and_status_filter_the_list(store: FileStore) -> None:
    register(store, _record("a", 1_000, "Town-Hall.mp4"))
    register(store, _record("b", 2_000, "lecture.webm"))
    register(store, _record("c", 3_000, "town-meeting.mp4"))
    failure = Failure("b", ErrorCode.NO_AUDIO_STREAM, "no audio", "file:///x")
    store.put_bytes(
        manifest_key("b"), Manifest.failed(failure, source="file:///x").to_json().encode()
    )
    assert [v.record.video_id for v in list_videos(store, search="TOWN").videos] == ["c", "a"]
    failed = list_videos(store, status="failed")
    assert [v.record.video_id for v in failed.videos] == ["b"]
    assert failed.videos[0].status == "failed"
    assert [v.record.video_id for v in list_videos(store, status="processing").videos] == [
        "c",
        "a",
    ]


def test_a_reupload_moves_the_video_to_the_top_and_its_old_entry_is_gone(
    store: FileStore,
) -> None:
    register(store, _record("a", 1_000))
    register(store, _record("b", 2_000))
    register(store, _record("a", 3_000, "new.mp4"))
    assert [v.record.video_id for v in list_videos(store).videos] == ["a", "b"]
    assert len(store.list_page(RECENT_PREFIX)) == 2
    assert not ensure_registered(store, _record("a", 4_000))  # a record is there: kept


def test_the_index_alone_says_what_a_list_shows(store: FileStore) -> None:
    register(store, _record("a", 1_000, "Talk.mp4", private=True))
    store.put_bytes("library/recent/not-an-entry", b"{}")  # written by hand: skipped
    (listed,) = list_videos(store).videos
    assert listed.record == _record("a", 1_000, "Talk.mp4", private=True)


def test_a_delete_leaves_only_the_tombstone(store: FileStore) -> None:
    register(store, _record("a", 1_000))
    store.put_bytes(upload_key("a", "talk.mp4"), b"video")
    store.put_bytes("captions/a/en.vtt", b"WEBVTT")
    store.put_bytes("captions/a/revisions/en/1.vtt", b"WEBVTT")
    register(store, _record("b", 2_000))
    assert is_known(store, "a")
    tombstone = bury(store, "a")
    purge(store, "a")
    assert [k for k in store.list() if "/a" in k or "~a~" in k] == [tombstone_key("a")]
    assert not is_known(store, "a")
    assert tombstone_of(store, "a") == tombstone
    assert [v.record.video_id for v in list_videos(store).videos] == ["b"]
    # events of before the delete are of the deleted video; an upload after it is a new one
    assert buried(store, "a", "2000-01-01T00:00:00Z")
    assert buried(store, "a", None)
    assert not buried(store, "a", "2999-01-01T00:00:00.000Z")
    assert not buried(store, "b", "2000-01-01T00:00:00Z")


def test_a_job_takes_back_only_what_it_wrote_before_a_later_upload(store: FileStore) -> None:
    register(store, _record("a", 1_000))
    tombstone = bury(store, "a")
    register(store, _record("a", 9_999_999_999_000))  # uploaded again after the delete
    store.put_bytes("captions/a/en.vtt", b"WEBVTT")  # written by the old job
    purge(store, "a", uploads=False, before=tombstone.deleted_at)
    assert store.exists(record_key("a"))  # the new upload's record stays
    assert not store.exists("captions/a/en.vtt")


# --- playback tokens ------------------------------------------------------------------------


def _ed25519() -> tuple[Ed25519PrivateKey, bytes]:
    private = Ed25519PrivateKey.generate()
    pem = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return private, pem


def test_a_token_reads_its_video_only_until_it_expires() -> None:
    keys = TokenKeys((SECRET,))
    token, expires = issue(keys, "v1", 60)
    assert expires - time.time() == pytest.approx(60, abs=2)
    assert accepts(keys, token, "v1")
    assert not accepts(keys, token, "v2")  # another video
    old, _ = issue(keys, "v1", 60, now=time.time() - 3600)
    assert not accepts(keys, old, "v1")  # expired


def test_forged_and_confused_tokens_are_refused() -> None:
    private, pem = _ed25519()
    keys = TokenKeys((SECRET,), (load_public_key(pem),))
    claims = {"sub": "v1", "exp": int(time.time()) + 60}
    forged = jwt.encode(claims, "x" * 32, algorithm="HS256")  # not our secret
    assert not accepts(keys, forged, "v1")
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    assert not accepts(keys, (header + b"." + body + b".").decode(), "v1")  # alg: none
    # HS256 "signed" with the public key as its secret: the public key is no HMAC key here
    confused = _hs256_with_secret(claims, pem)
    assert not accepts(keys, confused, "v1")
    assert not accepts(keys, jwt.encode(claims, SECRET * 2, algorithm="HS512"), "v1")  # other alg
    assert not accepts(keys, "not.a.token", "v1")
    no_expiry = jwt.encode({"sub": "v1"}, SECRET, algorithm="HS256")
    assert not accepts(keys, no_expiry, "v1")
    # the publisher's own EdDSA token is accepted; another key's is not
    assert accepts(keys, jwt.encode(claims, private, algorithm="EdDSA"), "v1")
    stranger = Ed25519PrivateKey.generate()
    assert not accepts(keys, jwt.encode(claims, stranger, algorithm="EdDSA"), "v1")
    assert not accepts(TokenKeys((SECRET,)), jwt.encode(claims, private, algorithm="EdDSA"), "v1")


def _hs256_with_secret(claims: dict[str, object], secret: bytes) -> str:
    import hashlib
    import hmac

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(json.dumps(claims).encode())
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + b64(signature)).decode()


def test_tokens_bind_to_an_address_and_origins_and_survive_a_key_rotation() -> None:
    old = TokenKeys(("o" * 32,))
    token, _ = issue(old, "v1", 60, ip="10.0.0.1", origins=["https://course.example"])
    rotated = TokenKeys((SECRET, "o" * 32))  # a new key signs; the old one still verifies
    assert accepts(rotated, token, "v1", ip="10.0.0.1", origin="https://course.example")
    assert not accepts(rotated, token, "v1", ip="10.0.0.2", origin="https://course.example")
    assert not accepts(rotated, token, "v1", ip="10.0.0.1", origin="https://evil.example")
    assert not accepts(rotated, token, "v1", ip="10.0.0.1", origin=None)
    assert not accepts(TokenKeys((SECRET,)), token, "v1", ip="10.0.0.1")  # retired key
    with pytest.raises(ValueError):
        TokenKeys(("short",))
    _, pem = _ed25519()
    private_pem = Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    with pytest.raises(ValueError):
        load_public_key(private_pem)
    assert load_public_key(pem) is not None
