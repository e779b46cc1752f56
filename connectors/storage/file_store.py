"""`FileStore`: an object store in a local folder (`file:///abs/dir` or a plain path)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, cast

from connectors.storage.layout import PARTIAL_RE, validate_key, validate_prefix
from connectors.storage.store import BoundedReader, ObjectInfo, check_range


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

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no object {key!r} in {self.url}")
        st = path.stat()
        # Writes are atomic renames, so size and mtime change with every new version.
        return ObjectInfo(
            st.st_size,
            f"{st.st_size:x}-{st.st_mtime_ns:x}",
            datetime.fromtimestamp(st.st_mtime, UTC),
        )

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
