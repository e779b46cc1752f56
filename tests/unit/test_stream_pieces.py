"""The stream service's pure pieces: parsing uploads, answering events, metrics text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apache_beam.io.restriction_trackers import OffsetRange
from apache_beam.pvalue import TaggedOutput
from prometheus_client.parser import text_string_to_metric_families

from connectors.kafka.config import KafkaConfig, Topics
from connectors.kafka.records import KafkaRecord
from connectors.kafka.unbounded import UNBOUNDED_STOP, _UnboundedOffsetTracker
from connectors.prometheus import ServiceMetrics
from connectors.storage.file_store import FileStore
from connectors.storage.s3_store import S3Store
from connectors.storage.sources import resolve_source
from pipelines.caption_stream import ParseUploads, StreamSettings, caption_event
from pipelines.commands.stream import file_roots
from schemas.errors import CaptionError, ErrorCode, Failure
from schemas.events import TrackRef, UploadRequest
from transforms.domain import CaptionResult
from transforms.settings import CaptionOptions

SETTINGS = StreamSettings(KafkaConfig("127.0.0.1:1"), CaptionOptions(storage_url="s3://bucket"))


def _record(value: bytes, key: bytes | None = b"v1") -> KafkaRecord:
    return KafkaRecord("video.uploaded", 0, 7, key, value, 0)


def _event(**fields: object) -> bytes:
    base = {"event_id": "e1", "video_id": "v1", "source": "s3://bucket/videos/v1/a.mp4"}
    return json.dumps({**base, **fields}).encode()


def test_a_valid_upload_becomes_a_request() -> None:
    (request,) = ParseUploads(SETTINGS).process(_record(_event(language="de")))
    assert request == UploadRequest("v1", "s3://bucket/videos/v1/a.mp4", "de", (), "e1")


def test_bad_messages_become_invalid_event_answers_with_the_raw_message() -> None:
    bad = [b"{nope", _event(video_id="../../etc/passwd"), _event(source="http://x/y.mp4"), b""]
    for raw in bad:
        (out,) = ParseUploads(SETTINGS).process(_record(raw))
        assert isinstance(out, TaggedOutput)
        topic, key, value = out.value
        event = json.loads(value)
        assert topic == "captions.failed" and event["status"] == "failed"
        assert event["error"]["code"] == "invalid_event"
        assert event["raw"] == raw.decode()
        assert key in (None, "v1")


def test_file_sources_need_a_file_root() -> None:
    (out,) = ParseUploads(SETTINGS).process(_record(_event(source="file:///tmp/a.mp4")))
    assert isinstance(out, TaggedOutput)
    assert "--file-root" in json.loads(out.value[2])["error"]["message"]


def test_ready_event_id_is_the_same_for_a_replay() -> None:
    request = UploadRequest("v1", "s3://bucket/videos/v1/a.mp4", event_id="e1")
    track = TrackRef("en", "captions", "vtt", "s3://bucket/captions/v1/en.vtt")
    result = CaptionResult(
        "v1",
        request.source,
        "ready",
        "s3://bucket/captions/v1/manifest.json",
        "en",
        12.0,
        3,
        (track,),
        request=request,
        model="small",
    )
    topic, key, first = caption_event(result, Topics(), "1.0/small")
    _, _, again = caption_event(result, Topics(), "1.0/small")
    _, _, other_model = caption_event(result, Topics(), "1.0/large-v3")
    assert (topic, key) == ("captions.ready", "v1")
    assert json.loads(first)["event_id"] == json.loads(again)["event_id"]
    assert json.loads(first)["event_id"] != json.loads(other_model)["event_id"]
    assert json.loads(first)["tracks"][0]["uri"].endswith("en.vtt")


def test_media_failure_answers_on_the_failed_topic_with_its_code() -> None:
    request = UploadRequest("v1", "s3://bucket/videos/v1/a.mp4", event_id="e1")
    failure = Failure("v1", ErrorCode.NO_AUDIO_STREAM, "no audio stream", request.source)
    result = CaptionResult("v1", request.source, "failed", "m", failure=failure, request=request)
    topic, key, value = caption_event(result, Topics(failed="f"), "1")
    event = json.loads(value)
    assert (topic, key) == ("f", "v1")
    assert event["error"]["code"] == "no_audio_stream" and event["upload_event_id"] == "e1"


def test_metrics_render_as_prometheus_counters() -> None:
    metrics = ServiceMetrics()
    metrics.record_batch(5, 1.5, {"videos_ready": 4, "events_invalid": 1})
    metrics.inc("batches_failed")
    metrics.observe_answers([0.5, 3.0, 7.0])
    text = metrics.render()
    assert "# TYPE autocaption_videos_ready_total counter" in text
    values = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels or sample.labels.get("le") == "5.0"
    }
    assert values["autocaption_videos_ready_total"] == 4
    assert values["autocaption_records_total"] == 5
    assert values["autocaption_batches_failed_total"] == 1
    assert values["autocaption_last_batch_records"] == 5
    assert values["autocaption_upload_to_answer_seconds_count"] == 3
    assert values["autocaption_upload_to_answer_seconds_bucket"] == 2  # 0.5 and 3.0 <= 5 s


def test_a_service_on_a_local_folder_takes_file_sources_from_that_folder_only(
    tmp_path: Path,
) -> None:
    store = FileStore(tmp_path / "storage")
    upload = store.root / "videos" / "v1" / "talk.mp4"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"media")
    outside = tmp_path / "elsewhere.mp4"
    outside.write_bytes(b"media")
    roots = file_roots(store, None)
    assert roots == (str(store.root),)
    assert resolve_source(upload.as_uri(), file_root=roots) == upload
    with pytest.raises(CaptionError) as refused:
        resolve_source(outside.as_uri(), file_root=roots)
    assert refused.value.code == ErrorCode.INVALID_EVENT
    assert file_roots(S3Store("bucket"), None) == ()
    assert file_roots(store, str(tmp_path)) == (str(store.root), str(tmp_path))


def test_an_unbounded_partition_splits_only_at_checkpoints() -> None:
    tracker = _UnboundedOffsetTracker(OffsetRange(5, UNBOUNDED_STOP))
    assert tracker.try_split(0.5) is None  # no offset past the records for the rest
    assert tracker.try_claim(5) and tracker.try_claim(6)
    primary, residual = tracker.try_split(0)  # a checkpoint: the rest resumes where it stopped
    assert (primary.start, primary.stop) == (5, 7)
    assert (residual.start, residual.stop) == (7, UNBOUNDED_STOP)
