"""`AssembleVideo`: the fan-in of one upload, from its chunk results to its transcripts.

Keyed by the upload (`transforms.domain.job_key`: video id, source and upload event), it waits
for the decoding summary and every chunk result, then emits `VideoTranscripts` or `VideoFailed`
(`transforms.transcript.video_transcripts`). State makes it correct on streaming runners, where
the parts of many uploads interleave; repeated parts (the same event delivered twice) count
once. Once done, the key remembers it only until an event-time timer fires `DONE_TTL_S` after
the upload's timestamp: state never grows with the number of uploads, and the watermark passes
that time only after every part of the upload has arrived.
"""

from __future__ import annotations

import logging
from typing import Any

import apache_beam as beam
from apache_beam.coders import BooleanCoder, PickleCoder, VarIntCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import (
    BagStateSpec,
    ReadModifyWriteStateSpec,
    TimerSpec,
    on_timer,
)
from apache_beam.utils.timestamp import Duration

from schemas.errors import failure_from_exception
from transforms.domain import (
    ChunkFailed,
    ChunkTranscript,
    VideoAudio,
    VideoFailed,
    VideoTranscripts,
)
from transforms.settings import CaptionOptions
from transforms.transcript import video_transcripts

log = logging.getLogger(__name__)

# How long (event time) a finished upload's key keeps its "done" mark, so that a repeat of its
# parts within that time is dropped; a later repeat is captioned again under the same ids.
DONE_TTL_S = 600


class AssembleVideo(beam.DoFn):
    """(job, VideoAudio | ChunkTranscript | ChunkFailed) in; VideoTranscripts | VideoFailed out."""

    PARTS = BagStateSpec("parts", PickleCoder())
    COUNT = ReadModifyWriteStateSpec("count", VarIntCoder())
    SUMMARY = ReadModifyWriteStateSpec("summary", PickleCoder())
    DONE = ReadModifyWriteStateSpec("done", BooleanCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, options: CaptionOptions) -> None:
        self.options = options

    def process(
        self,
        element: tuple[str, Any],
        timestamp: Any = beam.DoFn.TimestampParam,
        parts: Any = beam.DoFn.StateParam(PARTS),
        count: Any = beam.DoFn.StateParam(COUNT),
        summary_state: Any = beam.DoFn.StateParam(SUMMARY),
        done: Any = beam.DoFn.StateParam(DONE),
        expiry: Any = beam.DoFn.TimerParam(EXPIRY),
    ) -> list[VideoTranscripts | VideoFailed]:
        # Returns a list, never yields: Beam warns about generators that also return early.
        _, part = element
        # Every part of an upload carries the upload's timestamp, so this is one time per key.
        expiry.set(timestamp + Duration(seconds=DONE_TTL_S))
        if done.read():
            return []
        if isinstance(part, VideoAudio):
            if summary_state.read() is None:
                summary_state.write(part)
        else:
            parts.add(part)
            count.write((count.read() or 0) + 1)
        summary: VideoAudio | None = summary_state.read()
        if summary is None:
            return []
        expected = summary.chunks * len(summary.tasks)
        # the bag is read only once enough parts arrived, not once per chunk
        if summary.failure is None and (count.read() or 0) < expected:
            return []
        results: dict[tuple[int, str], ChunkTranscript | ChunkFailed] = {}
        for p in parts.read():
            results.setdefault((p.index, p.task), p)
        if summary.failure is None and len(results) < expected:
            return []  # some parts were repeats; wait for the rest
        done.write(True)
        parts.clear()
        count.clear()
        summary_state.clear()
        request = summary.request
        try:
            language = request.language or self.options.default_language
            model = self.options.whisper.model_label
            return [
                video_transcripts(summary, list(results.values()), language=language, model=model)
            ]
        except Exception as exc:  # a bug in one video's assembly must not stop the others
            log.exception("assembling %s failed", request.video_id)
            failure = failure_from_exception(exc, request.video_id, request.source)
            return [VideoFailed(request, failure, summary.started)]

    @on_timer(EXPIRY)
    def expire(
        self,
        parts: Any = beam.DoFn.StateParam(PARTS),
        count: Any = beam.DoFn.StateParam(COUNT),
        summary_state: Any = beam.DoFn.StateParam(SUMMARY),
        done: Any = beam.DoFn.StateParam(DONE),
    ) -> None:
        """The upload is long finished: forget its key."""
        for state in (parts, count, summary_state, done):
            state.clear()
