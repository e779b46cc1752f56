"""Media sources: the local file ffmpeg reads for an upload's `source`.

A source is a local path, a `file:///abs/path` or an `s3://bucket/key` object, which is staged
into a bounded temporary file. Every problem is a `CaptionError` with its code.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Final
from urllib.parse import unquote, urlsplit

from connectors.storage.layout import (
    SCHEMES,
    split_s3_url,
    unsupported_scheme,
    url_scheme,
    validate_key,
)
from connectors.storage.s3_store import S3Store
from schemas.errors import CaptionError, ErrorCode

COPY_CHUNK_BYTES: Final = 1024 * 1024


def _source_scheme(source: str) -> str:
    """The scheme of `source`, "file" (a path or file: URI) or "s3"; else INVALID_EVENT."""
    if not isinstance(source, str) or not source:
        raise CaptionError(ErrorCode.INVALID_EVENT, f"source is empty or not text: {source!r}")
    if "\x00" in source:
        raise CaptionError(ErrorCode.INVALID_EVENT, "source contains a NUL character")
    scheme = url_scheme(source) or "file"
    if scheme not in SCHEMES:
        raise CaptionError(
            ErrorCode.INVALID_EVENT, f"{unsupported_scheme(scheme)} in source {source[:200]!r}"
        )
    return scheme


def resolve_source(
    source: str, *, file_root: str | Path | Sequence[str | Path] | None = None
) -> Path:
    """The local file behind `source` (a path or a file:///abs URI), for ffmpeg to read.

    Relative paths are taken from the working directory; symlinks are resolved. With
    `file_root` (a folder, or several), the file must lie under it (one of them). Raises
    `CaptionError`: INVALID_EVENT for an unsupported scheme (s3:// included: stage it with
    `local_source`), a malformed file URI or a path outside `file_root`; SOURCE_NOT_FOUND for
    a path that is not an existing regular file. A local name containing ":" needs "./" first.
    """
    if _source_scheme(source) == "s3":
        raise CaptionError(
            ErrorCode.INVALID_EVENT,
            f"s3:// sources are not local files; stage them with local_source: {source[:200]!r}",
        )
    if url_scheme(source) == "file":
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
        roots = [file_root] if isinstance(file_root, str | Path) else list(file_root)
        if not any(_is_under(resolved, Path(root).resolve()) for root in roots):
            raise CaptionError(
                ErrorCode.INVALID_EVENT, f"source {source[:200]!r} is outside the allowed folders"
            )
    if not resolved.exists():
        raise CaptionError(ErrorCode.SOURCE_NOT_FOUND, f"no such file: {source[:200]!r}")
    if not resolved.is_file():
        raise CaptionError(ErrorCode.SOURCE_NOT_FOUND, f"not a regular file: {source[:200]!r}")
    return resolved


@contextmanager
def local_source(
    source: str,
    *,
    file_root: str | Path | Sequence[str | Path] | None = None,
    max_bytes: int | None = None,
    tmp_dir: str | None = None,
) -> Iterator[Path]:
    """A local file with the media of `source`, for ffmpeg, valid inside the `with` block.

    A path or file:///abs URI is yielded as `resolve_source` returns it (its rules, `file_root`
    included; `max_bytes` does not apply). An s3://bucket/key object is streamed in chunks into
    a temporary file in `tmp_dir` (default: the system's), deleted on exit, also on error.
    Raises `CaptionError`: INVALID_EVENT for an unsupported or malformed source;
    SOURCE_NOT_FOUND for a missing bucket or object, or access denied; UNSUPPORTED_MEDIA when
    the object is over `max_bytes`.
    """
    if _source_scheme(source) == "file":
        yield resolve_source(source, file_root=file_root)
        return
    store, key = _s3_source(source)
    try:
        body, length = store._open(key)
    except FileNotFoundError as exc:
        raise CaptionError(ErrorCode.SOURCE_NOT_FOUND, f"no such object: {source[:200]!r}") from exc
    except PermissionError as exc:
        raise CaptionError(
            ErrorCode.SOURCE_NOT_FOUND, f"access denied to object {source[:200]!r}"
        ) from exc
    with body:
        if max_bytes is not None and length is not None and length > max_bytes:
            raise _too_big(source, f"object is {length} bytes", max_bytes)
        path = _stage(body, source, key, max_bytes, tmp_dir)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _is_under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _s3_source(source: str) -> tuple[S3Store, str]:
    try:
        bucket, key = split_s3_url(source)
        return S3Store(bucket), validate_key(key)
    except ValueError as exc:
        raise CaptionError(
            ErrorCode.INVALID_EVENT, f"bad s3 source {source[:200]!r}: {exc}"
        ) from exc


def _stage(
    body: BinaryIO, source: str, key: str, max_bytes: int | None, tmp_dir: str | None
) -> Path:
    """Copy `body` into a new temporary file, chunk by chunk, stopping past `max_bytes`."""
    # Keep a plain extension: it helps ffmpeg guess formats that lack a clear signature.
    suffix = Path(key).suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,10}", Path(key).suffix) else ""
    handle, name = tempfile.mkstemp(prefix="autocaption-", suffix=suffix, dir=tmp_dir)
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            copied = 0
            while chunk := body.read(COPY_CHUNK_BYTES):
                copied += len(chunk)
                if max_bytes is not None and copied > max_bytes:
                    raise _too_big(source, f"object is over {max_bytes} bytes", max_bytes)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _too_big(source: str, size: str, max_bytes: int) -> CaptionError:
    return CaptionError(
        ErrorCode.UNSUPPORTED_MEDIA,
        f"{size}, over the {max_bytes}-byte limit: {source[:200]!r}",
    )
