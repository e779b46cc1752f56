"""`FileStore`: an object store in a local folder (`file:///abs/dir` or a plain path)."""

from __future__ import annotations

import bisect
import builtins
import fcntl
import hashlib
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, cast

from connectors.storage.layout import PARTIAL_RE, validate_key, validate_prefix
from connectors.storage.store import (
    BoundedReader,
    ObjectInfo,
    PreconditionFailed,
    check_condition,
    check_range,
)

# Objects up to this size get the MD5 of their content as ETag, as S3 gives single-part
# uploads: exact, where size and modification time are not (two saves of a caption track within
# the file system's clock tick look alike). Bigger ones (videos) are not read to answer a stat.
HASHED_ETAG_MAX_BYTES = 4 * 2**20

# A folder's listing is kept while the folder's modification time stays the same, once that time
# is this far behind the clock: a change within the file system's clock tick after a listing
# could otherwise leave the time as it was.
_SETTLED_NS = 2_000_000_000
_LISTINGS_KEPT = 8


class FileStore:
    """An `ObjectStore` in a local directory; directories are created as needed.

    Writes go to a hidden sibling and are renamed into place; a conditional write holds an
    exclusive lock on the object's folder (`flock`, so writers in other processes on this
    machine wait too) from its check to its rename. `content_type` is ignored: a file has none.
    Paths must stay under the root after resolving symlinks.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = self.root.as_uri()
        self._listings: dict[Path, tuple[tuple[int, int], builtins.list[str], frozenset[str]]] = {}
        self._listings_lock = threading.Lock()

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

    @contextmanager
    def _staged(self, key: str, write: Callable[[BinaryIO], object]) -> Iterator[tuple[Path, Path]]:
        """(complete hidden sibling, target path); the sibling is removed on exit."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path(key)  # a directory created above must not have been swapped for a symlink
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
        try:
            with open(partial, "xb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            yield partial, path
        finally:
            partial.unlink(missing_ok=True)

    def _write(self, key: str, write: Callable[[BinaryIO], object]) -> str:
        with self._staged(key, write) as (partial, path):
            os.replace(partial, path)
        return path.as_uri()

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> str:
        return self._write(key, lambda out: out.write(data))

    def put_if(
        self,
        key: str,
        data: bytes,
        content_type: str | None = None,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        check_condition(if_match, if_none_match)
        with self._staged(key, lambda out: out.write(data)) as (partial, path):
            folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                fcntl.flock(folder, fcntl.LOCK_EX)  # released when the descriptor closes
                current = self._etag_or_none(path)
                if if_none_match and current is not None:
                    raise PreconditionFailed(f"{key!r} exists")
                if if_match is not None and current != if_match:
                    raise PreconditionFailed(f"{key!r} is not at ETag {if_match!r}")
                os.replace(partial, path)
                os.fsync(folder)
                return self.stat(key).etag
            finally:
                os.close(folder)

    def _etag_or_none(self, path: Path) -> str | None:
        try:
            return _etag(path, path.stat())
        except FileNotFoundError:
            return None

    def put_file(self, key: str, local_path: str | Path, content_type: str | None = None) -> str:
        with open(local_path, "rb") as source:
            return self._write(key, lambda out: shutil.copyfileobj(source, out, 1024 * 1024))

    def get_bytes(self, key: str) -> bytes:
        with self.open_read(key) as stream:
            return stream.read()

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        with self.open_read(key) as stream:
            st = os.fstat(stream.fileno())
            data = stream.read()
        # The file read is the file stated (a rename puts a new one in its place, never edits it).
        if st.st_size <= HASHED_ETAG_MAX_BYTES:
            return data, hashlib.md5(data, usedforsecurity=False).hexdigest()
        return data, _big_etag(st)

    def open_read(self, key: str) -> BinaryIO:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no object {key!r} in {self.url}")
        return open(path, "rb")

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no object {key!r} in {self.url}")
        st = path.stat()
        return ObjectInfo(st.st_size, _etag(path, st), datetime.fromtimestamp(st.st_mtime, UTC))

    def open_range(self, key: str, start: int, end: int) -> BinaryIO:
        check_range(start, end)
        stream = self.open_read(key)
        stream.seek(start)
        return cast(BinaryIO, BoundedReader(stream, end - start + 1))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)
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
                if PARTIAL_RE.match(name):
                    continue
                path = here / name
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix) and path.is_file() and self._inside(path):
                    keys.append(key)
        return iter(sorted(keys))

    def list_page(
        self, prefix: str, start_after: str = "", limit: int = 1000
    ) -> builtins.list[str]:
        """Like S3's ListObjectsV2 with StartAfter; a flat folder (the library's index) is
        read with one `scandir` (kept while the folder is unchanged) and no walk."""
        validate_prefix(prefix)
        folder, _, stem = prefix.rpartition("/")
        start = self.root / folder if folder else self.root
        if not start.is_dir() or (folder and not self._inside(start)):
            return []
        base = f"{folder}/" if folder else ""
        all_names, folders = self._listing(start)
        names = [n for n in all_names if n.startswith(stem)] if stem else all_names
        nested = not folders.isdisjoint(names)
        if nested:  # keys below folders: the general walk
            keys = [k for k in self.list(prefix) if k > start_after]
            return keys[:limit]
        page = names[bisect.bisect_right(names, start_after[len(base) :]) :]
        if start_after and not start_after.startswith(base):
            page = names if start_after < base else []
        return [base + name for name in page[:limit]]

    def _listing(self, folder: Path) -> tuple[builtins.list[str], frozenset[str]]:
        """A folder's entry names, sorted (partial writes left out), and which are folders.

        One `scandir` costs about 2.5 ms per 1,000 entries; the result is kept while the
        folder's modification time is unchanged (an entry added, renamed into place or removed
        changes it), so paging a library that is not being written to reads the folder once."""
        before = os.stat(folder)
        stamp = (before.st_ino, before.st_mtime_ns)
        with self._listings_lock:
            kept = self._listings.get(folder)
        if kept is not None and kept[0] == stamp:
            return kept[1], kept[2]
        scanned_at = time.time_ns()
        names: builtins.list[str] = []
        folders: set[str] = set()
        with os.scandir(folder) as entries:
            for entry in entries:
                if not PARTIAL_RE.match(entry.name):
                    names.append(entry.name)
                    if entry.is_dir(follow_symlinks=False):
                        folders.add(entry.name)
        names.sort()
        listing = names, frozenset(folders)
        if scanned_at - before.st_mtime_ns >= _SETTLED_NS:
            with self._listings_lock:
                if len(self._listings) >= _LISTINGS_KEPT:
                    self._listings.clear()
                self._listings[folder] = (stamp, *listing)
        return listing

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


def _etag(path: Path, st: os.stat_result) -> str:
    """The MD5 of a small object's content; size, modification time and inode of a big one
    (writes are renames of new files, so all three change with a new version)."""
    if st.st_size <= HASHED_ETAG_MAX_BYTES:
        with open(path, "rb") as stream:
            return hashlib.md5(stream.read(), usedforsecurity=False).hexdigest()
    return _big_etag(st)


def _big_etag(st: os.stat_result) -> str:
    return f"{st.st_size:x}-{st.st_mtime_ns:x}-{st.st_ino:x}"
