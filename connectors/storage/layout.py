"""Object keys and the storage layout: the one place that knows where things live.

Layout under a store (docs/architecture.md, "Storage"):

    videos/<video_id>/<file name>         uploads
    captions/<video_id>/<lang>.<format>   tracks, one file a caption format of the registry
                                          (schemas.formats: vtt, srt, ttml)
    captions/<video_id>/transcript.json
    captions/<video_id>/manifest.json     written last: its presence means the rest is complete
    captions/<video_id>/revisions/<lang>/<n>.vtt   every revision of a track, kept
    captions/<video_id>/pending/<lang>.json        a track being made again on request
    library/videos/<video_id>.json        the library's record of a video: name, upload time,
                                          private or not (library.catalog)
    library/recent/<inverted ms>~<video_id>~<o|p>~<name>  the library's index, newest first
                                          (o: public, p: private)
    library/deleted/<video_id>.json       a deleted video's tombstone: all a delete leaves

Keys are checked in one place (`validate_key`); a bad key, bucket or URL is a programming or
configuration error and raises `ValueError`. `SCHEMES` are the only URL schemes that stores and
sources accept (a plain path counts as "file"): nothing else is ever fetched.
"""

from __future__ import annotations

import re
from typing import Final

from schemas.formats import TRACK_FORMATS, is_caption_format
from schemas.ids import LANGUAGE_CODE_RULE, is_language_code, validate_video_id

MAX_KEY_LENGTH: Final = 1024  # S3's limit, in UTF-8 bytes

# The one list of URL schemes that stores and sources accept; a plain path counts as "file".
SCHEMES: Final = ("file", "s3")

_SCHEME_RE: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# S3 (and R2, MinIO) bucket names: 3-63 characters of a-z, 0-9, '.', '-', alphanumeric at both ends.
_BUCKET_RE: Final = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# In-flight writes of FileStore: a hidden sibling of the target, never a valid key segment.
PARTIAL_RE: Final = re.compile(r"^\..*\.[0-9a-f]{32}\.partial$")


def validate_key(key: str) -> str:
    """`key` unchanged if it is a safe object key, else `ValueError`.

    Safe: non-empty, relative, '/'-separated, no empty, '.' or '..' segment, no backslash, no
    NUL or other control character, at most 1024 UTF-8 bytes.
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f"object key must be a non-empty string, not {key!r}")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_LENGTH:
        raise ValueError(f"object key is over {MAX_KEY_LENGTH} bytes: {key[:60]!r}...")
    if key.startswith("/"):
        raise ValueError(f"object key must be relative, not {key!r}")
    if "\\" in key:
        raise ValueError(f"object key must not contain a backslash: {key!r}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        raise ValueError(f"object key must not contain control characters: {key!r}")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise ValueError(f"object key has an empty, '.' or '..' segment: {key!r}")
        if PARTIAL_RE.match(segment):
            raise ValueError(f"object key looks like an in-flight write: {key!r}")
    return key


def validate_prefix(prefix: str) -> str:
    # A prefix is a key cut anywhere (S3 semantics): "captions/ab" matches "captions/abc/x".
    if prefix == "":
        return prefix
    validate_key(prefix.removesuffix("/"))
    return prefix


def single_segment(name: str, what: str) -> str:
    validate_key(name)
    if "/" in name:
        raise ValueError(f"{what} must be one key segment, not {name!r}")
    return name


def uploads_prefix(video_id: str) -> str:
    """`videos/<video_id>/`: the folder of one video's upload."""
    return f"videos/{validate_video_id(video_id)}/"


def upload_key(video_id: str, file_name: str) -> str:
    """`videos/<video_id>/<file_name>`: where an upload is stored."""
    return uploads_prefix(video_id) + single_segment(file_name, "file name")


CAPTIONS_ROOT = "captions"


def captions_prefix(video_id: str, root: str = CAPTIONS_ROOT) -> str:
    """`captions/<video_id>/`: the folder of one video's outputs. `root=""` drops the
    `captions/` level (the CLI's `--out DIR` is that level itself)."""
    folder = f"{validate_video_id(video_id)}/"
    return f"{single_segment(root, 'captions root')}/{folder}" if root else folder


def caption_key(video_id: str, name: str, root: str = CAPTIONS_ROOT) -> str:
    """`captions/<video_id>/<name>`, e.g. name "en.vtt" or "transcript.json"."""
    return captions_prefix(video_id, root) + single_segment(name, "caption file name")


def manifest_key(video_id: str, root: str = CAPTIONS_ROOT) -> str:
    """`captions/<video_id>/manifest.json`."""
    return caption_key(video_id, "manifest.json", root)


def track_key(video_id: str, language: str, fmt: str) -> str:
    """`captions/<video_id>/<language>.<fmt>`: a track as the origin serves it, in a caption
    format of the registry."""
    if not is_caption_format(fmt):
        raise ValueError(f"not a caption format: {fmt!r}")
    return caption_key(video_id, f"{_language(language)}.{fmt}")


def revisions_prefix(video_id: str, language: str) -> str:
    """`captions/<video_id>/revisions/<language>/`: every revision of one track."""
    return f"{captions_prefix(video_id)}revisions/{_language(language)}/"


def revision_key(video_id: str, language: str, revision: int) -> str:
    """`captions/<video_id>/revisions/<language>/<revision>.vtt`."""
    if not isinstance(revision, int) or revision < 1:
        raise ValueError(f"a revision is a number from 1, not {revision!r}")
    return f"{revisions_prefix(video_id, language)}{revision}.vtt"


def pending_key(video_id: str, language: str) -> str:
    """`captions/<video_id>/pending/<language>.json`: a track asked to be made again."""
    return f"{captions_prefix(video_id)}pending/{_language(language)}.json"


def script_key(video_id: str, name: str) -> str:
    """`captions/<video_id>/scripts/<name>`: a transcript a person supplied, to be aligned."""
    return f"{captions_prefix(video_id)}scripts/{single_segment(name, 'a transcript name')}"


LIBRARY_ROOT = "library"
STAGED_TRANSCRIPTS = f"{LIBRARY_ROOT}/transcripts/"


def staged_transcript_key(transcript_id: str) -> str:
    """`library/transcripts/<id>.txt`: a transcript sent before the upload it goes with."""
    return f"{STAGED_TRANSCRIPTS}{single_segment(transcript_id, 'a transcript id')}.txt"


RECENT_PREFIX = f"{LIBRARY_ROOT}/recent/"
# The index's keys sort newest first: the upload time in milliseconds, subtracted from this.
_NEWEST_FIRST_MS: Final = 10**13 - 1


def record_key(video_id: str) -> str:
    """`library/videos/<video_id>.json`: the library's record of one video."""
    return f"{LIBRARY_ROOT}/videos/{validate_video_id(video_id)}.json"


def tombstone_key(video_id: str) -> str:
    """`library/deleted/<video_id>.json`: what a delete leaves, so that nothing comes back."""
    return f"{LIBRARY_ROOT}/deleted/{validate_video_id(video_id)}.json"


def recent_key(uploaded_ms: int, video_id: str, name: str, private: bool = False) -> str:
    """`library/recent/<inverted ms>~<video_id>~<o|p>~<name>`: one entry of the library's
    index, holding what a list shows without reading another object. Keys sort newest first;
    '~' is in neither a video id nor a stored file name."""
    if not 0 <= uploaded_ms <= _NEWEST_FIRST_MS:
        raise ValueError(f"not a time in milliseconds: {uploaded_ms!r}")
    single_segment(name, "file name")
    if "~" in name:
        raise ValueError(f"a library name has no '~': {name!r}")
    inverted = _NEWEST_FIRST_MS - uploaded_ms
    flag = "p" if private else "o"
    return f"{RECENT_PREFIX}{inverted:013d}~{validate_video_id(video_id)}~{flag}~{name}"


def parse_recent_key(key: str) -> tuple[int, str, bool, str] | None:
    """(upload time in ms, video id, private, name) of an index key; None for anything
    else."""
    if not key.startswith(RECENT_PREFIX):
        return None
    inverted, _, rest = key[len(RECENT_PREFIX) :].partition("~")
    video_id, _, rest = rest.partition("~")
    flag, _, name = rest.partition("~")
    if not (inverted.isdigit() and len(inverted) == 13 and video_id and flag in "op" and name):
        return None
    return _NEWEST_FIRST_MS - int(inverted), video_id, flag == "p", name


def _language(code: str) -> str:
    if not is_language_code(code):
        raise ValueError(f"{code!r} is not {LANGUAGE_CODE_RULE}")
    return code


def is_valid_key(key: str) -> bool:
    try:
        validate_key(key)
    except ValueError:
        return False
    return True


def validate_bucket(bucket: str) -> str:
    """`bucket` unchanged if it is a valid S3 bucket name, else `ValueError`."""
    if not isinstance(bucket, str) or not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise ValueError(
            f"bucket name {bucket!r} is not 3-63 characters of a-z, 0-9, '.' and '-' "
            "starting and ending with a letter or digit"
        )
    return bucket


def url_scheme(url: str) -> str | None:
    """The lowercased scheme of `url` ("s3", "file", "http" ...), None for a plain path."""
    match = _SCHEME_RE.match(url)
    return match.group(1).lower() if match else None


def split_s3_url(url: str) -> tuple[str, str]:
    """("bucket", "rest") of "s3://bucket/rest"; the bucket is validated, the rest is not."""
    if not url[:5].lower() == "s3://":
        raise ValueError(f"{url!r} is not an s3://bucket/... URL")
    bucket, _, rest = url[5:].partition("/")
    return validate_bucket(bucket), rest


def unsupported_scheme(scheme: str) -> str:
    return f"unsupported scheme {scheme!r} (use {' or '.join(f'{s}://' for s in SCHEMES)})"


# Content-Types of stored files, by extension: uploads, then the track formats of the registry.
CONTENT_TYPES: Final = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".m4a": "audio/mp4",
    ".mov": "video/quicktime",
    ".3gp": "video/3gpp",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".ogg": "audio/ogg",
    ".ogv": "video/ogg",
    ".opus": "audio/ogg",
    ".wav": "audio/wav",
    ".avi": "video/x-msvideo",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".ts": "video/mp2t",
    ".mts": "video/mp2t",
    ".m2ts": "video/mp2t",
    ".mpeg": "video/mpeg",
    ".oga": "audio/ogg",
    ".wma": "audio/x-ms-wma",
    ".amr": "audio/amr",
    ".aac": "audio/aac",
    ".rm": "application/vnd.rn-realmedia",
    ".flv": "video/x-flv",
    ".mpg": "video/mpeg",
    ".wmv": "video/x-ms-wmv",
    ".aiff": "audio/aiff",
    **{f.extension: f.media_type for f in TRACK_FORMATS},
}
# The extensions of audio and video files (what a library listing takes as media).
MEDIA_EXTENSIONS: Final = frozenset(
    ext for ext, kind in CONTENT_TYPES.items() if kind.startswith(("audio/", "video/"))
)


def content_type_for(name: str) -> str:
    """The Content-Type to serve a stored file under, from its extension."""
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return CONTENT_TYPES.get(suffix, "application/octet-stream")
