"""`caption_files`: the bounded graph behind `autocaption caption` — files in, tracks out.

    Create(requests) -> CaptionVideos -> results

The CLI reads each video's manifest afterwards: the manifest in storage, not the pipeline's
in-memory output, is the record of what happened.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

import apache_beam as beam

from schemas.events import UploadRequest, video_id_from_filename
from transforms.caption import CaptionOptions, CaptionVideos


def requests_for_files(inputs: Sequence[str]) -> list[UploadRequest]:
    """One upload request per input; ids come from file names, made unique when two inputs
    share a name (a short hash of the full path keeps them apart, deterministically)."""
    sources = [_source_uri(i) for i in inputs]
    ids = [video_id_from_filename(os.path.basename(s.rstrip("/"))) for s in sources]
    seen: dict[str, int] = {}
    for video_id in ids:
        seen[video_id] = seen.get(video_id, 0) + 1
    requests = []
    for source, video_id in zip(sources, ids, strict=True):
        if seen[video_id] > 1:
            digest = hashlib.sha256(source.encode()).hexdigest()[:8]
            video_id = f"{video_id[:119]}-{digest}"
        requests.append(UploadRequest(video_id=video_id, source=source))
    return requests


def _source_uri(path: str) -> str:
    if "://" in path:
        return path
    return "file://" + os.path.abspath(path)


def caption_files(
    pipeline: beam.Pipeline, requests: Sequence[UploadRequest], options: CaptionOptions
) -> beam.PCollection:
    """Add the graph to `pipeline`; returns the PCollection of `CaptionResult`s."""
    return (
        pipeline
        | "Uploads" >> beam.Create(list(requests))
        | "CaptionVideos" >> CaptionVideos(options)
    )
