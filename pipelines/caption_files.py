"""`caption_files`: the bounded graph behind `autocaption caption` — files in, tracks out.

    Create(requests) -> CaptionVideos -> results

The CLI reads each video's manifest afterwards: the manifest in storage, not the pipeline's
in-memory output, is the record of what happened.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

import apache_beam as beam

from connectors.storage.layout import SCHEMES, url_scheme
from schemas.errors import ErrorCode, Failure
from schemas.events import UploadRequest
from schemas.ids import video_id_from_filename
from transforms.caption import CaptionVideos
from transforms.settings import CaptionOptions


def requests_for_files(inputs: Sequence[str]) -> list[UploadRequest]:
    """One upload request per distinct input; ids come from file names, made unique when two
    inputs share a name (a short hash of the source keeps them apart, deterministically)."""
    sources = list(dict.fromkeys(source_uri(i) for i in inputs))  # the same file once
    ids = [video_id_from_filename(_file_name(s)) for s in sources]
    counts = Counter(ids)
    requests = []
    for source, video_id in zip(sources, ids, strict=True):
        if counts[video_id] > 1:
            digest = hashlib.sha256(source.encode()).hexdigest()[:8]
            video_id = f"{video_id[:119]}-{digest}"
        requests.append(UploadRequest(video_id=video_id, source=source))
    return requests


def refused_input(given: str) -> Failure | None:
    """Why an input cannot be captioned as given (a URL of a scheme we never fetch), else None.

    The failure carries a safe video id from the input's file name and code `invalid_event`."""
    if (url_scheme(given) if "://" in given else None) in (None, *SCHEMES):
        return None
    return Failure(
        video_id_from_filename(_file_name(given) or "video"),
        ErrorCode.INVALID_EVENT,
        f"unsupported source {given!r}: give a local file, a file:// or an s3:// URI "
        "(other URLs are never fetched)",
        given,
    )


def source_uri(path: str) -> str:
    """A CLI input as a source URI: URIs stay, local paths become `file://` URIs
    (percent-encoded, so any file name survives the trip)."""
    if "://" in path:
        return path
    return Path(os.path.abspath(path)).as_uri()


def _file_name(source: str) -> str:
    return unquote(urlsplit(source).path.rstrip("/").rsplit("/", 1)[-1])


def caption_files(
    pipeline: beam.Pipeline, requests: Sequence[UploadRequest], options: CaptionOptions
) -> beam.PCollection:
    """Add the graph to `pipeline`; returns the PCollection of `CaptionResult`s."""
    return (
        pipeline
        | "Uploads" >> beam.Create(list(requests))
        | "CaptionVideos" >> CaptionVideos(options)
    )
