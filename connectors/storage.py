"""The one object-store interface, the one place that knows the storage layout, and sources.

A store is opened from a URL (`open_store`): `file:///abs/dir` or a plain local path
(`FileStore`), `s3://bucket/prefix` (`S3Store`). Keys are checked in one place (`validate_key`);
a bad key or a bad store URL is a programming or configuration error and raises `ValueError`.
A missing object raises `FileNotFoundError`.

A media source (`local_source`) is a local path, a `file:///abs/path` or an `s3://bucket/key`
object, which is staged into a bounded temporary file for ffmpeg.

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
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Protocol, cast, runtime_checkable
from urllib.parse import unquote, urlsplit

from schemas.errors import CaptionError, ErrorCode
from schemas.events import validate_video_id

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

MAX_KEY_LENGTH: Final = 1024  # S3's limit, in UTF-8 bytes
COPY_CHUNK_BYTES: Final = 1024 * 1024

# The one list of URL schemes that stores and sources accept; a plain path counts as "file".
SCHEMES: Final = ("file", "s3")

_SCHEME_RE: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# S3 (and R2, MinIO) bucket names: 3-63 characters of a-z, 0-9, '.', '-', alphanumeric at both ends.
_BUCKET_RE: Final = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
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


@dataclass(frozen=True)
class ObjectInfo:
    """What an HTTP origin needs to know of an object without reading it."""

    size: int
    etag: str  # opaque, without quotes; changes whenever the content does
    modified: datetime  # UTC


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

    def put_bytes_if_absent(self, key: str, data: bytes, content_type: str | None = None) -> bool:
        """Store `data` at `key` only if no object is there, atomically: True if this call
        wrote it, False if an object already existed (it is left unchanged)."""
        ...

    def get_bytes(self, key: str) -> bytes:
        """The whole object; `FileNotFoundError` if absent."""
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

    def put_bytes_if_absent(self, key: str, data: bytes, content_type: str | None = None) -> bool:
        with self._staged(key, lambda out: out.write(data)) as (partial, path):
            if path.is_dir():
                raise IsADirectoryError(f"object key {key!r} names a folder in {self.url}")
            try:
                # link(2) never replaces: of two racing writers exactly one succeeds, and
                # readers only ever see the complete file.
                os.link(partial, path)
            except FileExistsError:
                return False
        return True

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
        _check_range(start, end)
        stream = self.open_read(key)
        stream.seek(start)
        return cast(BinaryIO, _BoundedReader(stream, end - start + 1))

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


class S3Store:
    """An `ObjectStore` in an S3 bucket, under an optional key prefix: `s3://bucket/prefix`.

    Configured only by boto3's own conventions, so AWS S3, Cloudflare R2 and MinIO need no code:
    the endpoint from `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (or `endpoint_url` in the
    config file), credentials from the usual chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`,
    `AWS_PROFILE`, instance roles ...), region from `AWS_DEFAULT_REGION` or the profile, retries
    from `AWS_RETRY_MODE`/`AWS_MAX_ATTEMPTS`. With an endpoint URL set, botocore addresses
    buckets path-style (`http://host/bucket/key`), which is what MinIO needs; virtual-host
    style is chosen only by `addressing_style = virtual` under `s3` in the AWS config file
    (botocore reads no environment variable for it). For a server that rejects botocore's
    default CRC checksums, set `AWS_REQUEST_CHECKSUM_CALCULATION=when_required`.

    Picklable for Beam: the client is never pickled, and is created on first use in each
    process. Missing objects (or bucket) raise `FileNotFoundError`, access denied raises
    `PermissionError`; other S3 errors raise botocore's `ClientError`. `content_type` is
    stored as the object's Content-Type.
    """

    def __init__(self, bucket: str, prefix: str = "", *, page_size: int = 1000) -> None:
        self.bucket = validate_bucket(bucket)
        prefix = prefix.strip("/")
        self.prefix = validate_key(prefix) if prefix else ""
        self.page_size = page_size
        self.url = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        self._client: Any = None
        self._client_pid = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"S3Store({self.url!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_client=None, _client_pid=0, _lock=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """This store's boto3 S3 client in this process (made on first use, again after a fork)."""
        with self._lock:
            if self._client is None or self._client_pid != os.getpid():
                self._client = _new_s3_client()
                self._client_pid = os.getpid()
            return self._client

    def _key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    @contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        """botocore's not-found and access-denied errors as the built-in exceptions."""
        from botocore.exceptions import ClientError

        try:
            yield
        except ClientError as exc:
            code, status = _error_code(exc)
            where = f"{key!r} in {self.url}"
            if code == "NoSuchBucket":
                raise FileNotFoundError(f"no bucket {self.bucket!r} ({self.url})") from exc
            if code in ("NoSuchKey", "NotFound") or status == 404:
                raise FileNotFoundError(f"no object {where} ({code})") from exc
            if code in ("AccessDenied", "Forbidden") or status == 403:
                raise PermissionError(f"access denied to object {where} ({code})") from exc
            raise

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> str:
        extra = {"ContentType": content_type} if content_type else {}
        name = self._key(key)
        with self._errors(key):
            self.client.put_object(Bucket=self.bucket, Key=name, Body=data, **extra)
        return f"s3://{self.bucket}/{name}"

    def put_bytes_if_absent(self, key: str, data: bytes, content_type: str | None = None) -> bool:
        from botocore.exceptions import ClientError

        extra = {"ContentType": content_type} if content_type else {}
        name = self._key(key)
        # 409 means a concurrent conditional write was in flight: S3 asks for a retry.
        for attempt in range(3):
            try:
                with self._errors(key):
                    self.client.put_object(
                        Bucket=self.bucket, Key=name, Body=data, IfNoneMatch="*", **extra
                    )
                return True
            except ClientError as exc:
                code, status = _error_code(exc)
                if status == 412 or code == "PreconditionFailed":
                    return False
                if (status != 409 and code != "ConditionalRequestConflict") or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def put_file(self, key: str, local_path: str | Path, content_type: str | None = None) -> str:
        extra = {"ContentType": content_type} if content_type else None
        name = self._key(key)
        with self._errors(key):
            # s3transfer streams from disk and switches to multipart above 8 MB.
            self.client.upload_file(str(local_path), self.bucket, name, ExtraArgs=extra)
        return f"s3://{self.bucket}/{name}"

    def _open(self, key: str) -> tuple[BinaryIO, int | None]:
        """The object's streamed body and its ContentLength."""
        name = self._key(key)
        with self._errors(key):
            response = self.client.get_object(Bucket=self.bucket, Key=name)
        return cast(BinaryIO, response["Body"]), response.get("ContentLength")

    def open_read(self, key: str) -> BinaryIO:
        return self._open(key)[0]

    def get_bytes(self, key: str) -> bytes:
        with self.open_read(key) as body:
            return body.read()

    def stat(self, key: str) -> ObjectInfo:
        name = self._key(key)
        with self._errors(key):
            head = self.client.head_object(Bucket=self.bucket, Key=name)
        return ObjectInfo(
            int(head["ContentLength"]),
            str(head.get("ETag", "")).strip('"'),
            head["LastModified"].astimezone(UTC),
        )

    def open_range(self, key: str, start: int, end: int) -> BinaryIO:
        _check_range(start, end)
        name = self._key(key)
        with self._errors(key):
            response = self.client.get_object(
                Bucket=self.bucket, Key=name, Range=f"bytes={start}-{end}"
            )
        return cast(BinaryIO, response["Body"])

    def exists(self, key: str) -> bool:
        name = self._key(key)
        try:
            with self._errors(key):
                self.client.head_object(Bucket=self.bucket, Key=name)
        except FileNotFoundError:  # a HEAD cannot tell a missing bucket from a missing key
            return False
        return True

    def list(self, prefix: str = "") -> Iterator[str]:
        _validate_prefix(prefix)
        base = f"{self.prefix}/" if self.prefix else ""
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket,
            Prefix=base + prefix,
            PaginationConfig={"PageSize": self.page_size},
        )
        keys: list[str] = []
        with self._errors(prefix):
            for page in pages:
                for item in page.get("Contents", ()):
                    key = item["Key"][len(base) :]
                    # Objects written around the store ("a//b", ...) cannot be addressed
                    # through it, so they are not listed.
                    if _is_valid_key(key):
                        keys.append(key)
        return iter(sorted(keys))

    def delete(self, key: str) -> None:
        name = self._key(key)
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=name)


def _check_range(start: int, end: int) -> None:
    if start < 0 or end < start:
        raise ValueError(f"bad byte range {start}-{end}")


class _BoundedReader:
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

    def __enter__(self) -> _BoundedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class UploadSpool:
    """A request body on its way to a store: written chunk by chunk into a temporary file
    (never held in memory), refused past `max_bytes`, then `put_file`d. Use it as a context
    manager; the temporary file is deleted on exit.
    """

    def __init__(self, max_bytes: int, tmp_dir: str | None = None) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        handle, name = tempfile.mkstemp(prefix="autocaption-upload-", dir=tmp_dir)
        self.path = Path(name)
        self._out: BinaryIO = os.fdopen(handle, "wb")

    def write(self, chunk: bytes) -> None:
        """Append `chunk`; `OverflowError` (nothing written) when it would pass `max_bytes`."""
        if self.size + len(chunk) > self.max_bytes:
            raise OverflowError(f"body is over {self.max_bytes} bytes")
        self._out.write(chunk)
        self.size += len(chunk)

    def store(self, store: ObjectStore, key: str, content_type: str | None = None) -> str:
        """Put what was written at `key` in `store`; returns the object's URI."""
        self._out.flush()
        return store.put_file(key, self.path, content_type)

    def close(self) -> None:
        self._out.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> UploadSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_SESSION_LOCK: Final = threading.Lock()
_session: Any = None
_session_pid = 0
_clients: dict[tuple[str, ...], Any] = {}
# What configures a client: a change (tests start S3 servers on new ports) makes a new one.
_CLIENT_ENV: Final = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)


def _new_s3_client() -> Any:
    """This process's S3 client for the current environment (boto3 clients are thread-safe).

    One session per process: making it loads botocore's data files (~60 ms); a client takes
    another ~50 ms, which the stream service would pay per upload and per micro-batch if every
    store made its own. Sessions are not thread-safe, so clients are made under a lock."""
    global _session, _session_pid
    key = tuple(os.environ.get(name, "") for name in _CLIENT_ENV)
    with _SESSION_LOCK:
        if _session is None or _session_pid != os.getpid():
            import boto3  # only S3 users pay for importing boto3

            _session = boto3.session.Session()
            _session_pid = os.getpid()
            _clients.clear()
        if key not in _clients:
            _clients[key] = _session.client("s3")
        return _clients[key]


def _error_code(exc: ClientError) -> tuple[str, int | None]:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(error.get("Code", "")), status


def _is_valid_key(key: str) -> bool:
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


def _scheme(url: str) -> str | None:
    """The lowercased scheme of `url` ("s3", "file", "http" ...), None for a plain path."""
    match = _SCHEME_RE.match(url)
    return match.group(1).lower() if match else None


def _split_s3_url(url: str) -> tuple[str, str]:
    """("bucket", "rest") of "s3://bucket/rest"; the bucket is validated, the rest is not."""
    if not url[:5].lower() == "s3://":
        raise ValueError(f"{url!r} is not an s3://bucket/... URL")
    bucket, _, rest = url[5:].partition("/")
    return validate_bucket(bucket), rest


def open_store(url: str) -> ObjectStore:
    """The store for `url`: "file:///abs/dir", a plain local path or "s3://bucket/prefix".

    Raises `ValueError` for a URL it cannot open (unknown scheme, file URL with a host, bad
    bucket name or prefix).
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("storage URL is empty")
    scheme = _scheme(url) if "://" in url else None
    if scheme is None:
        return FileStore(Path(url))
    if scheme not in SCHEMES:
        raise ValueError(f"storage URL {url!r}: {_unsupported(scheme)}")
    if scheme == "s3":
        try:
            bucket, prefix = _split_s3_url(url)
            return S3Store(bucket, prefix)
        except ValueError as exc:
            raise ValueError(f"storage URL {url!r}: {exc}") from exc
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise ValueError(f"storage URL {url!r}: a file URL must be file:///absolute/path")
    return FileStore(Path(unquote(parts.path)))


def _unsupported(scheme: str) -> str:
    return f"unsupported scheme {scheme!r} (use {' or '.join(f'{s}://' for s in SCHEMES)})"


# --- sources ----------------------------------------------------------------------------------


def _source_scheme(source: str) -> str:
    """The scheme of `source`, "file" (a path or file: URI) or "s3"; else INVALID_EVENT."""
    if not isinstance(source, str) or not source:
        raise CaptionError(ErrorCode.INVALID_EVENT, f"source is empty or not text: {source!r}")
    if "\x00" in source:
        raise CaptionError(ErrorCode.INVALID_EVENT, "source contains a NUL character")
    scheme = _scheme(source) or "file"
    if scheme not in SCHEMES:
        raise CaptionError(
            ErrorCode.INVALID_EVENT, f"{_unsupported(scheme)} in source {source[:200]!r}"
        )
    return scheme


def resolve_source(source: str, *, file_root: Path | None = None) -> Path:
    """The local file behind `source` (a path or a file:///abs URI), for ffmpeg to read.

    Relative paths are taken from the working directory; symlinks are resolved. With
    `file_root`, the file must lie under it. Raises `CaptionError`: INVALID_EVENT for an
    unsupported scheme (s3:// included: stage it with `local_source`), a malformed file URI or
    a path outside `file_root`; SOURCE_NOT_FOUND for a path that is not an existing regular
    file. A local name containing ":" needs "./" first.
    """
    if _source_scheme(source) == "s3":
        raise CaptionError(
            ErrorCode.INVALID_EVENT,
            f"s3:// sources are not local files; stage them with local_source: {source[:200]!r}",
        )
    if _scheme(source) == "file":
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


@contextmanager
def local_source(
    source: str,
    *,
    file_root: Path | None = None,
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


def _s3_source(source: str) -> tuple[S3Store, str]:
    try:
        bucket, key = _split_s3_url(source)
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
