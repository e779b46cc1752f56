"""What an upload is, told from its first bytes (never from the client's Content-Type), and
the name the gateway stores it under (Content-Types: `connectors.storage.layout`)."""

from __future__ import annotations

import re
from typing import Final

from schemas.ids import safe_characters

# Enough for every signature below (MPEG-TS checks its second packet at byte 188).
SNIFF_BYTES: Final = 512

# ISO-BMFF boxes a file can start with: "ftyp" (mp4, m4a, 3gp, mov), and old QuickTime files
# that begin with their movie, data or padding box.
_QUICKTIME_BOXES: Final = (b"moov", b"mdat", b"wide", b"free", b"skip")


def sniff_extension(head: bytes) -> str | None:
    """The file extension (".mp4", ".webm", ...) of the audio or video container whose first
    bytes are `head`, or None when they are not a known audio or video signature."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return ".mov"
        if brand.startswith((b"M4A", b"M4B")):
            return ".m4a"
        if brand.startswith(b"3g"):
            return ".3gp"
        return ".mp4"
    if len(head) >= 8 and head[4:8] in _QUICKTIME_BOXES:
        return ".mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska or WebM, told by the DocType
        return ".webm" if b"webm" in head[:64] else ".mkv"
    if head.startswith(b"OggS"):
        return ".ogg"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return ".wav"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return ".avi"
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return ".aiff"
    if head.startswith(b"fLaC"):
        return ".flac"
    if head.startswith(b"ID3"):
        return ".mp3"
    if head.startswith(b"#!AMR"):
        return ".amr"
    if head.startswith(b".RMF"):
        return ".rm"
    if head.startswith(b"FLV\x01"):
        return ".flv"
    if head.startswith(b"\x00\x00\x01\xba"):  # MPEG program stream pack header
        return ".mpg"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):  # ASF header object
        return ".wmv"
    if head[:1] == b"\x47" and (len(head) <= 188 or head[188:189] == b"\x47"):
        return ".ts"  # MPEG-TS: a sync byte every 188 bytes
    if len(head) >= 2 and head[0] == 0xFF:
        if head[1] & 0xF6 == 0xF0:  # ADTS: 12-bit sync, layer 00
            return ".aac"
        if head[1] & 0xE0 == 0xE0 and head[1] & 0x06 and head[1] & 0x18 != 0x08:
            return ".mp3"  # MPEG audio frame: 11-bit sync, a valid version and layer
    return None


def safe_file_name(name: str | None, extension: str) -> str:
    """`name` made into one safe storage key segment: folders dropped, accents folded, other
    characters outside [A-Za-z0-9._-] replaced, at most 100 characters; "upload" when nothing
    is left. `extension` (from the sniffed bytes) is added when the name has none."""
    base = re.split(r"[/\\]", name or "")[-1]
    safe = safe_characters(base.replace("\u00df", "ss")).strip("._-")[:100].rstrip("._-")
    stem, dot, ext = safe.rpartition(".")
    if not safe:
        return "upload" + extension
    if not dot or not stem or not re.fullmatch(r"[A-Za-z0-9]{1,10}", ext):
        return safe + extension
    return safe
