"""The contracts: events, manifests, transcripts and the error vocabulary.

Arrow schemas live in `schemas.arrow` (not imported here, so this package needs no pyarrow).
"""

from schemas.errors import CaptionError, ErrorCode, Failure, failure_from_exception
from schemas.events import (
    PIPELINE_VERSION,
    CaptionsFailed,
    CaptionsReady,
    ErrorDetail,
    TrackRef,
    UploadRequest,
    parse_upload_event,
    utc_timestamp,
)
from schemas.ids import (
    derived_event_id,
    is_safe_video_id,
    validate_video_id,
    video_id_from_filename,
)
from schemas.manifest import Manifest
from schemas.transcript import Segment, Transcript, Word
from schemas.validation import load_schema

__all__ = [
    "PIPELINE_VERSION",
    "CaptionError",
    "CaptionsFailed",
    "CaptionsReady",
    "ErrorCode",
    "ErrorDetail",
    "Failure",
    "Manifest",
    "Segment",
    "TrackRef",
    "Transcript",
    "UploadRequest",
    "Word",
    "derived_event_id",
    "failure_from_exception",
    "is_safe_video_id",
    "load_schema",
    "parse_upload_event",
    "utc_timestamp",
    "validate_video_id",
    "video_id_from_filename",
]
