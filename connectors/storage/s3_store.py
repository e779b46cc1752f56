"""`S3Store`: an object store in an S3 bucket (`s3://bucket/prefix`): AWS S3, R2, MinIO."""

from __future__ import annotations

import builtins
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final, cast

from connectors.storage.layout import is_valid_key, validate_bucket, validate_key, validate_prefix
from connectors.storage.store import ObjectInfo, PreconditionFailed, check_condition, check_range

if TYPE_CHECKING:
    from botocore.exceptions import ClientError


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

    def put_if(
        self,
        key: str,
        data: bytes,
        content_type: str | None = None,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        """S3's conditional writes (`If-Match`, `If-None-Match: *` on PutObject), which AWS S3,
        R2 and MinIO decide atomically on the server."""
        from botocore.exceptions import ClientError

        check_condition(if_match, if_none_match)
        extra: dict[str, str] = {"ContentType": content_type} if content_type else {}
        if if_match is not None:
            extra["IfMatch"] = f'"{if_match}"'
        else:
            extra["IfNoneMatch"] = "*"
        try:
            with self._errors(key):
                response = self.client.put_object(
                    Bucket=self.bucket, Key=self._key(key), Body=data, **extra
                )
        except FileNotFoundError as exc:  # If-Match on an object that is gone
            raise PreconditionFailed(f"{key!r} is gone") from exc
        except ClientError as exc:
            code, status = _error_code(exc)
            # 412: the condition failed; 409: another conditional write to the key was in flight
            if status in (409, 412) or code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise PreconditionFailed(f"{key!r}: {code or status}") from exc
            raise
        return str(response.get("ETag", "")).strip('"')

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

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        name = self._key(key)
        with self._errors(key):
            response = self.client.get_object(Bucket=self.bucket, Key=name)
        with response["Body"] as body:
            return body.read(), str(response.get("ETag", "")).strip('"')

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
        check_range(start, end)
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
        validate_prefix(prefix)
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
                    if is_valid_key(key):
                        keys.append(key)
        return iter(sorted(keys))

    def list_page(
        self, prefix: str, start_after: str = "", limit: int = 1000
    ) -> builtins.list[str]:
        validate_prefix(prefix)
        base = f"{self.prefix}/" if self.prefix else ""
        request: dict[str, Any] = {
            "Bucket": self.bucket,
            "Prefix": base + prefix,
            "MaxKeys": max(1, min(limit, 1000)),
        }
        if start_after:
            request["StartAfter"] = base + start_after
        with self._errors(prefix):
            page = self.client.list_objects_v2(**request)
        keys = [item["Key"][len(base) :] for item in page.get("Contents", ())]
        return [key for key in keys if is_valid_key(key)]

    def delete(self, key: str) -> None:
        name = self._key(key)
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=name)


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
