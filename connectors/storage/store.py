"""The one object-store interface (`ObjectStore`) and what its implementations share.

A missing object raises `FileNotFoundError`; writes replace whole objects atomically. A
conditional write (`put_if`) that finds the object not as expected raises `PreconditionFailed`.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable


@dataclass(frozen=True)
class ObjectInfo:
    """What an HTTP origin needs to know of an object without reading it."""

    size: int
    etag: str  # opaque, without quotes; changes whenever the content does
    modified: datetime  # UTC


class PreconditionFailed(Exception):
    """A conditional write found the object changed, present when it should be absent, or
    absent when it should be present; nothing was written."""


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

    def put_if(
        self,
        key: str,
        data: bytes,
        content_type: str | None = None,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        """Store `data` at `key` only if the object's ETag is still `if_match`, or, with
        `if_none_match`, only if there is no object yet; atomically, so of two writers racing
        on the same condition exactly one succeeds. Returns the new ETag; raises
        `PreconditionFailed` when the condition does not hold. Give exactly one condition."""
        ...

    def get_bytes(self, key: str) -> bytes:
        """The whole object; `FileNotFoundError` if absent."""
        ...

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        """The whole object and the ETag of exactly that content, for a later `put_if`;
        `FileNotFoundError` if absent."""
        ...

    def open_read(self, key: str) -> BinaryIO:
        """A binary stream of the object (close it); `FileNotFoundError` if absent."""
        ...

    def stat(self, key: str) -> ObjectInfo:
        """Size, ETag and modification time; `FileNotFoundError` if absent."""
        ...

    def open_range(self, key: str, start: int, end: int) -> BinaryIO:
        """A binary stream of bytes `start`..`end` (inclusive, 0 <= start <= end < size) of
        the object, read lazily (close it); `FileNotFoundError` if absent."""
        ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys starting with `prefix` (a plain string prefix), sorted."""
        ...

    def list_page(
        self, prefix: str, start_after: str = "", limit: int = 1000
    ) -> builtins.list[str]:
        """At most `limit` keys starting with `prefix` that sort after `start_after`, sorted:
        one page of a listing, costing one request however many keys come before it."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; absent objects are fine."""
        ...

    def uri(self, key: str) -> str:
        """The object's URI (file:///..., s3://...)."""
        ...


def check_condition(if_match: str | None, if_none_match: bool) -> None:
    if (if_match is None) == (not if_none_match):
        raise ValueError("a conditional write needs exactly one of if_match and if_none_match")


def check_range(start: int, end: int) -> None:
    if start < 0 or end < start:
        raise ValueError(f"bad byte range {start}-{end}")


class BoundedReader:
    """At most `left` bytes of an open file, then end of stream; closes the file."""

    def __init__(self, stream: BinaryIO, left: int) -> None:
        self._stream = stream
        self._left = left

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._stream.read(size)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> BoundedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
