"""`UploadSpool`: a request body on its way to a store, never held in memory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from connectors.storage.store import ObjectStore


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
