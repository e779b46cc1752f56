"""The one object-store interface, the one place that knows the storage layout, and sources.

A store is opened from a URL (`open_store`): `file:///abs/dir` or a plain local path today,
`s3://bucket/prefix` through `S3Store` next. Keys are checked in one place (`validate_key`);
a bad key or a bad store URL is a programming or configuration error and raises `ValueError`.
A missing object raises `FileNotFoundError`.

Layout under a store (DESIGN.md, "Contracts"):
    videos/<video_id>/<file name>         uploads
    captions/<video_id>/<lang>.vtt|.srt   tracks
    captions/<video_id>/transcript.json
    captions/<video_id>/manifest.json     written last: its presence means the rest is complete
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Final, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from schemas.errors import CaptionError, ErrorCode
from schemas.events import validate_video_id

MAX_KEY_LENGTH: Final = 1024  # S3's limit, in UTF-8 bytes

_SCHEME_RE: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# In-flight writes of FileStore: a hidden sibling of the target, never a valid key segment.
_PARTIAL_RE: Final = re.compile(r"^\..*\.[0-9a-f]{32}\.partial$")


# --- keys -------------------------------------------------------------------------------------


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
        if _PARTIAL_RE.match(segment):
            raise ValueError(f"object key looks like an in-flight write: {key!r}")
    return key


def _validate_prefix(prefix: str) -> str:
    # A prefix is a key cut anywhere (S3 semantics): "captions/ab" matches "captions/abc/x".
    if prefix == "":
        return prefix
    validate_key(prefix.removesuffix("/"))
    return prefix


def _single_segment(name: str, what: str) -> str:
    validate_key(name)
    if "/" in name:
        raise ValueError(f"{what} must be one key segment, not {name!r}")
    return name


# --- layout -----------------------------------------------------------------------------------


def upload_key(video_id: str, file_name: str) -> str:
    """`videos/<video_id>/<file_name>`: where an upload is stored."""
    return f"videos/{validate_video_id(video_id)}/{_single_segment(file_name, 'file name')}"


CAPTIONS_ROOT = "captions"


def captions_prefix(video_id: str, root: str = CAPTIONS_ROOT) -> str:
    """`captions/<video_id>/`: the folder of one video's outputs. `root=""` drops the
    `captions/` level (the CLI's `--out DIR` is that level itself)."""
    folder = f"{validate_video_id(video_id)}/"
    return f"{_single_segment(root, 'captions root')}/{folder}" if root else folder


def caption_key(video_id: str, name: str, root: str = CAPTIONS_ROOT) -> str:
    """`captions/<video_id>/<name>`, e.g. name "en.vtt" or "transcript.json"."""
    return captions_prefix(video_id, root) + _single_segment(name, "caption file name")


def manifest_key(video_id: str, root: str = CAPTIONS_ROOT) -> str:
    """`captions/<video_id>/manifest.json`."""
    return caption_key(video_id, "manifest.json", root)


# --- stores -----------------------------------------------------------------------------------


@runtime_checkable
class ObjectStore(Protocol):
    """A flat namespace of byte objects under `url`; writes replace whole objects atomically."""

    url: str

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> str:
        """Store `data` at `key` (readers see the old object or the new one); returns its URI."""
        ...

    def put_file(self, key: str, local_path: str | Path, content_type: str | None = None) -> str:
        """Stream the local file into `key` like `put_bytes`; returns its URI."""
        ...

    def get_bytes(self, key: str) -> bytes:
        """The whole object; `FileNotFoundError` if absent."""
        ...

    def open_read(self, key: str) -> BinaryIO:
        """A binary stream of the object (close it); `FileNotFoundError` if absent."""
        ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys starting with `prefix` (a plain string prefix), sorted."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; absent objects are fine."""
        ...

    def uri(self, key: str) -> str:
        """The object's URI (file:///..., s3://...)."""
        ...


class FileStore:
    """An `ObjectStore` in a local directory; directories are created as needed.

    Writes go to a hidden sibling and are renamed into place. `content_type` is ignored: a file
    has none. Paths must stay under the root after resolving symlinks.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = self.root.as_uri()

    def __repr__(self) -> str:
        return f"FileStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        path = self.root / validate_key(key)
        resolved = path.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise ValueError(f"object key {key!r} resolves outside the store root {self.root}")
        return path

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def _write(self, key: str, write: Callable[[BinaryIO], object]) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path(key)  # a directory created above must not have been swapped for a symlink
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
        try:
            with open(partial, "xb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return path.as_uri()

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> str:
        return self._write(key, lambda out: out.write(data))

    def put_file(self, key: str, local_path: str | Path, content_type: str | None = None) -> str:
        with open(local_path, "rb") as source:
            return self._write(key, lambda out: shutil.copyfileobj(source, out, 1024 * 1024))

    def get_bytes(self, key: str) -> bytes:
        with self.open_read(key) as stream:
            return stream.read()

    def open_read(self, key: str) -> BinaryIO:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no object {key!r} in {self.url}")
        return open(path, "rb")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[str]:
        _validate_prefix(prefix)
        # Walk only the deepest folder the prefix names, then filter by the string prefix.
        folder = prefix.rpartition("/")[0]
        start = self.root / folder if folder else self.root
        if not start.is_dir() or (folder and not self._inside(start)):
            return iter(())
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(start):
            here = Path(dirpath)
            dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]
            for name in filenames:
                if _PARTIAL_RE.match(name):
                    continue
                path = here / name
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix) and path.is_file() and self._inside(path):
                    keys.append(key)
        return iter(sorted(keys))

    def _inside(self, path: Path) -> bool:
        resolved = path.resolve()
        return resolved == self.root or self.root in resolved.parents

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        # Drop folders left empty so a listing never shows them.
        parent = path.parent
        while parent != self.root:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent


def open_store(url: str) -> ObjectStore:
    """The store for `url`: "file:///abs/dir", a plain local path, later "s3://bucket/prefix".

    Raises `ValueError` for a URL it cannot open (unknown scheme, file URL with a host).
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("storage URL is empty")
    match = _SCHEME_RE.match(url)
    scheme = match.group(1).lower() if match and "://" in url else None
    if scheme is None:
        return FileStore(Path(url))
    if scheme == "file":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError(f"storage URL {url!r}: a file URL must be file:///absolute/path")
        return FileStore(Path(unquote(parts.path)))
    if scheme == "s3":
        raise ValueError(f"storage URL {url!r}: s3:// storage is not implemented yet")
    raise ValueError(f"storage URL {url!r}: unsupported scheme {scheme!r} (use file:// or s3://)")


# --- sources ----------------------------------------------------------------------------------


def resolve_source(source: str, *, file_root: Path | None = None) -> Path:
    """The local file behind `source` (a path or a file:///abs URI), for ffmpeg to read.

    Relative paths are taken from the working directory; symlinks are resolved. With
    `file_root`, the file must lie under it. Raises `CaptionError`: INVALID_EVENT for an
    unsupported scheme, a malformed file URI or a path outside `file_root`; SOURCE_NOT_FOUND for
    a path that is not an existing regular file. A local name containing ":" needs "./" first.
    """
    if not isinstance(source, str) or not source:
        raise CaptionError(ErrorCode.INVALID_EVENT, f"source is empty or not text: {source!r}")
    if "\x00" in source:
        raise CaptionError(ErrorCode.INVALID_EVENT, "source contains a NUL character")
    match = _SCHEME_RE.match(source)
    if match is not None:
        scheme = match.group(1).lower()
        if scheme == "s3":
            # Filled by the S3 issue: download to a temporary file through the object store.
            raise CaptionError(
                ErrorCode.INVALID_EVENT, f"s3:// sources are not supported yet: {source!r}"
            )
        if scheme != "file":
            raise CaptionError(
                ErrorCode.INVALID_EVENT, f"unsupported source scheme {scheme!r}: {source[:200]!r}"
            )
        parts = urlsplit(source)
        if not source.startswith("file:///") and parts.netloc != "localhost":
            raise CaptionError(
                ErrorCode.INVALID_EVENT,
                f"a file source must be file:///absolute/path, not {source[:200]!r}",
            )
        local = unquote(parts.path)
        if "\x00" in local or not local.startswith("/"):
            raise CaptionError(ErrorCode.INVALID_EVENT, f"bad file source {source[:200]!r}")
        path = Path(local)
    else:
        path = Path(source)
    resolved = path.resolve()
    if file_root is not None:
        root = Path(file_root).resolve()
        if resolved != root and root not in resolved.parents:
            raise CaptionError(
                ErrorCode.INVALID_EVENT, f"source {source[:200]!r} is outside the allowed folder"
            )
    if not resolved.exists():
        raise CaptionError(ErrorCode.SOURCE_NOT_FOUND, f"no such file: {source[:200]!r}")
    if not resolved.is_file():
        raise CaptionError(ErrorCode.SOURCE_NOT_FOUND, f"not a regular file: {source[:200]!r}")
    return resolved
