"""Manifests validate and round-trip; the Arrow schemas build tables."""

from __future__ import annotations

import json

import pytest

from schemas import ErrorCode, Failure, Manifest, TrackRef
from schemas.arrow import (
    REPORT_SCHEMA,
    ReportRow,
    report_table,
)

TRACKS = (
    TrackRef("en", "captions", "vtt", "file:///out/captions/abc/en.vtt", "captions/abc/en.vtt"),
    TrackRef("en", "captions", "srt", "file:///out/captions/abc/en.srt", "captions/abc/en.srt"),
    TrackRef("en", "captions", "json", "file:///out/captions/abc/transcript.json"),
)


def _ready() -> Manifest:
    return Manifest.ready(
        "abc",
        "file:///data/abc.mp4",
        duration_s=36.6004,
        language="en",
        tracks=TRACKS,
        model="small",
        cues=12,
        pipeline_version="0.1.0",
        created_at="2026-11-26T10:00:00Z",
    )


def _failed() -> Manifest:
    failure = Failure("abc", ErrorCode.NO_AUDIO_STREAM, "no audio stream", "file:///data/abc.mp4")
    return Manifest.failed(failure, pipeline_version="0.1.0", created_at="2026-11-26T10:00:00Z")


def test_ready_manifest_has_the_design_fields_and_round_trips():
    manifest = _ready()
    document = json.loads(manifest.to_json())
    assert list(document)[:9] == [
        "video_id",
        "source",
        "status",
        "duration_s",
        "language",
        "tracks",
        "error",
        "model",
        "created_at",
    ]
    assert document["status"] == "ready" and document["error"] is None
    assert document["duration_s"] == 36.6
    assert Manifest.from_json(manifest.to_json()) == Manifest.from_dict(document)
    assert Manifest.from_json(manifest.to_json().encode()).tracks == TRACKS


def test_failed_manifest_carries_the_error_and_round_trips():
    manifest = _failed()
    assert manifest.status == "failed" and manifest.tracks == () and manifest.cues is None
    assert manifest.error is not None and manifest.error.code == ErrorCode.NO_AUDIO_STREAM
    assert manifest.source == "file:///data/abc.mp4"
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert json.loads(manifest.to_json())["error"] == {
        "code": "no_audio_stream",
        "message": "no audio stream",
    }


def test_failed_manifest_needs_a_safe_video_id():
    with pytest.raises(ValueError, match="video_id"):
        Manifest.failed(Failure(None, ErrorCode.INVALID_EVENT, "bad event"))
    with pytest.raises(ValueError, match="video_id"):
        Manifest.failed(Failure("../x", ErrorCode.INVALID_EVENT, "bad event"))


def test_long_error_messages_are_truncated():
    manifest = Manifest.failed(Failure("abc", ErrorCode.INTERNAL, "x" * 5000))
    assert manifest.error is not None and len(manifest.error.message) == 1000


def test_ready_manifest_must_not_carry_an_error_or_lack_a_language():
    document = json.loads(_ready().to_json())
    with pytest.raises(ValueError, match="error"):
        Manifest.from_dict({**document, "error": {"code": "internal", "message": "x"}})
    with pytest.raises(ValueError, match="language"):
        Manifest.from_dict({**document, "language": None})


def test_failed_manifest_must_carry_an_error_and_no_tracks():
    document = json.loads(_failed().to_json())
    with pytest.raises(ValueError, match="error"):
        Manifest.from_dict({**document, "error": None})
    with pytest.raises(ValueError, match="tracks"):
        Manifest.from_dict({**document, "tracks": [TRACKS[0].to_dict()]})


@pytest.mark.parametrize(
    "change",
    [
        {"status": "done"},
        {"cues": -1},
        {"tracks": [{"language": "en", "kind": "captions", "format": "ass", "uri": "x"}]},
        {"created_at": "now"},
        {"extra": 1},
    ],
)
def test_manifest_that_breaks_the_schema_is_refused(change):
    document = {**json.loads(_ready().to_json()), **change}
    with pytest.raises(ValueError, match="invalid manifest"):
        Manifest.from_dict(document)


def test_damaged_manifest_file_is_refused():
    with pytest.raises(ValueError, match="not JSON"):
        Manifest.from_json('{"video_id": ')


def test_report_table_takes_rows_and_mappings():
    failure = Failure("bad", ErrorCode.SOURCE_NOT_FOUND, "gone", "s3://bucket/bad.mp4")
    table = report_table(
        [
            ReportRow("abc", "file:///data/abc.mp4", "ready", None, 36.6, "en", 12, 4.2, "small"),
            ReportRow(failure.video_id, failure.source, "failed", str(failure.code), None),
            ReportRow("old", "s3://bucket/old.mp4", "skipped"),
            {
                "video_id": None,
                "source": "http://x",
                "status": "failed",
                "error_code": "invalid_event",
            },
        ]
    )
    assert table.schema == REPORT_SCHEMA
    assert table.column("status").to_pylist() == ["ready", "failed", "skipped", "failed"]
    assert table.column("cues").to_pylist() == [12, None, None, None]
    assert table.column("error_code").to_pylist()[1] == "source_not_found"


def test_report_rows_refuse_unknown_statuses_and_columns():
    with pytest.raises(ValueError, match="status"):
        ReportRow("a", None, "done")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown columns"):
        report_table([{"video_id": "a", "source": None, "status": "ready", "colour": "red"}])


def test_empty_tables_keep_their_schema():
    assert report_table([]).num_rows == 0
    assert report_table([]).schema == REPORT_SCHEMA


def test_ready_manifest_records_the_vocabulary_it_was_made_with():
    manifest = Manifest.ready(
        "abc",
        "file:///data/abc.mp4",
        duration_s=1.0,
        language="en",
        tracks=TRACKS,
        model="whisper-base",
        cues=1,
        vocabulary=("ComfyUI", None),
    )
    document = json.loads(manifest.to_json())
    assert document["vocabulary"] == {"hotwords": "ComfyUI", "initial_prompt": None}
    assert Manifest.from_json(manifest.to_json()).vocabulary == ("ComfyUI", None)
    assert "vocabulary" not in json.loads(_ready().to_json())  # none given: none written
