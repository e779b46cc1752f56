"""`--model`: a faster-whisper model name, downloaded now, or a local CTranslate2 folder."""

from __future__ import annotations

import os

from pipelines.options import UsageError


def resolve_model(name_or_path: str) -> tuple[str, str]:
    """(path to load, label for manifests). A name is downloaded now, so a missing network is
    one clear error before any work starts, not a crash inside a worker."""
    if os.path.isdir(name_or_path):
        if not os.path.isfile(os.path.join(name_or_path, "model.bin")):
            raise UsageError(f"--model: {name_or_path} has no model.bin (not a CTranslate2 model)")
        return os.path.abspath(name_or_path), os.path.basename(os.path.normpath(name_or_path))
    if os.sep in name_or_path or name_or_path.startswith("."):
        raise UsageError(f"--model: no such folder {name_or_path}")
    from transforms.whisper import download_model

    try:
        return download_model(name_or_path), name_or_path
    except ValueError as exc:
        raise UsageError(f"--model: {exc}") from None
    except Exception as exc:
        raise UsageError(
            f"--model: could not download {name_or_path!r} ({type(exc).__name__}); "
            "offline, pass a local CTranslate2 folder: --model /path/to/model"
        ) from None
