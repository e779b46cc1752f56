"""Storage: the one object-store interface over local folders and S3, the storage layout and
media sources.

    layout.py      object keys and where things live (`upload_key`, `caption_key`, ...)
    store.py       the `ObjectStore` interface
    (here)         `open_store(url)`: a store from its URL
    file_store.py  `FileStore`, a local folder
    s3_store.py    `S3Store`, an S3 bucket (AWS S3, Cloudflare R2, MinIO)
    sources.py     `local_source`: the local file ffmpeg reads for a source
    spool.py       `UploadSpool`: an upload body on its way to a store
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from connectors.storage.file_store import FileStore
from connectors.storage.layout import SCHEMES, split_s3_url, unsupported_scheme, url_scheme
from connectors.storage.s3_store import S3Store
from connectors.storage.store import ObjectStore


def open_store(url: str) -> ObjectStore:
    """The store for `url`: "file:///abs/dir", a plain local path or "s3://bucket/prefix".

    Raises `ValueError` for a URL it cannot open (unknown scheme, file URL with a host, bad
    bucket name or prefix).
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("storage URL is empty")
    scheme = url_scheme(url) if "://" in url else None
    if scheme is None:
        return FileStore(Path(url))
    if scheme not in SCHEMES:
        raise ValueError(f"storage URL {url!r}: {unsupported_scheme(scheme)}")
    if scheme == "s3":
        try:
            bucket, prefix = split_s3_url(url)
            return S3Store(bucket, prefix)
        except ValueError as exc:
            raise ValueError(f"storage URL {url!r}: {exc}") from exc
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise ValueError(f"storage URL {url!r}: a file URL must be file:///absolute/path")
    return FileStore(Path(unquote(parts.path)))
