"""The gateway's pure pieces: upload sniffing, file names, byte ranges; FileStore ranges."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.storage.file_store import FileStore
from connectors.storage.layout import content_type_for
from connectors.storage.spool import UploadSpool
from devtools.media import GOOD_KINDS
from gateway.media_types import SNIFF_BYTES, safe_file_name, sniff_extension
from gateway.origin import RangeNotSatisfiable, etag_matches, parse_range


@pytest.mark.parametrize("kind", sorted(GOOD_KINDS))
def test_every_test_media_kind_is_recognised_from_its_first_bytes(kind: str, media) -> None:  # type: ignore[no-untyped-def]
    head = media(kind).read_bytes()[:SNIFF_BYTES]
    assert sniff_extension(head) is not None


@pytest.mark.parametrize(
    "head",
    [b"", b"hello world, plain text\n" * 30, b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n" + b"\0" * 40,
     b"PK\x03\x04" + b"\0" * 40, b"<html><body>", b"RIFF\0\0\0\0WEBPVP8 "],
)  # fmt: skip
def test_documents_and_images_are_not_media(head: bytes) -> None:
    assert sniff_extension(head) is None


def test_signatures_give_their_extensions() -> None:
    assert sniff_extension(b"\0\0\0\x18ftypqt  \0\0\0\0") == ".mov"
    assert sniff_extension(b"\0\0\0\x18ftypM4A \0\0\0\0") == ".m4a"
    assert sniff_extension(b"ID3\x04\0\0\0\0") == ".mp3"
    assert sniff_extension(b"\xff\xfb\x90\x64") == ".mp3"
    assert sniff_extension(b"\xff\xf1\x50\x80") == ".aac"
    assert sniff_extension(b"#!AMR\n") == ".amr"
    assert sniff_extension(b"FLV\x01\x05") == ".flv"
    assert sniff_extension(b"\x47" + b"\0" * 187 + b"\x47") == ".ts"
    assert sniff_extension(b"\x47" + b"\0" * 187 + b"\x00") is None


def test_file_names_become_one_safe_segment() -> None:
    assert safe_file_name("My talk.webm", ".webm") == "My_talk.webm"
    assert safe_file_name("../../etc/passwd", ".mp4") == "passwd.mp4"
    assert safe_file_name("Grüße.mov", ".mov") == "Grusse.mov"
    assert safe_file_name(None, ".mkv") == "upload.mkv"
    assert safe_file_name("..", ".mkv") == "upload.mkv"
    assert content_type_for("videos/x/a.WEBM") == "video/webm"
    assert content_type_for("noext") == "application/octet-stream"


def test_byte_ranges() -> None:
    assert parse_range("bytes=0-99", 1000) == (0, 99)
    assert parse_range("bytes=990-2000", 1000) == (990, 999)
    assert parse_range("bytes=-10", 1000) == (990, 999)
    assert parse_range("bytes=500-", 1000) == (500, 999)
    assert parse_range("bytes=0-1,5-6", 1000) is None  # several ranges: the whole object
    assert parse_range("items=0-1", 1000) is None
    assert parse_range("bytes=9-3", 1000) is None
    for header in ("bytes=1000-", "bytes=-0"):
        with pytest.raises(RangeNotSatisfiable):
            parse_range(header, 1000)
    assert etag_matches('W/"abc", "def"', "abc") and etag_matches("*", "x")
    assert not etag_matches('"abcd"', "abc")


def test_file_store_stats_and_reads_ranges(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.put_bytes("videos/a/x.bin", bytes(range(256)))
    info = store.stat("videos/a/x.bin")
    assert info.size == 256 and info.etag
    with store.open_range("videos/a/x.bin", 10, 19) as part:
        assert part.read() == bytes(range(10, 20)) and part.read() == b""
    with pytest.raises(FileNotFoundError):
        store.stat("videos/a/none.bin")


def test_upload_spool_refuses_past_its_limit(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    with UploadSpool(10, str(tmp_path)) as spool:
        spool.write(b"0123456789")
        with pytest.raises(OverflowError):
            spool.write(b"x")
        spool.store(store, "videos/a/up.bin")
        spooled = spool.path
    assert store.get_bytes("videos/a/up.bin") == b"0123456789" and not spooled.exists()
