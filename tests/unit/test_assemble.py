"""`AssembleVideo` on a streaming runner: the fan-in of each upload is its own, also when a
video id and file are uploaded again, and a finished upload's state goes away.

TestStream on Beam's bundle-based DirectRunner in streaming mode, where a stateful DoFn lives
for the whole pipeline (as on Flink), unlike the batch FnApiRunner that runs each micro-batch as
a pipeline of its own. Scripted model: these tests count answers, not words.
"""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner
from apache_beam.testing import test_stream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from devtools.media import make_media
from schemas.events import UploadRequest
from transforms.assemble import DONE_TTL_S
from transforms.caption import CaptionVideos
from transforms.settings import CaptionOptions, WhisperSettings


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_media("mp3", tmp_path_factory.mktemp("talk"), name="talk.mp3")


def assert_answers(
    uploads: list[tuple[float, UploadRequest]],
    expected: list[tuple[str, str | None, str]],
    model: Path,
    out: Path,
) -> None:
    """The (video id, upload event id, status) of every result are `expected`, uploads given
    at their event times."""
    stream = test_stream.TestStream()
    for at, request in uploads:
        stream = stream.advance_watermark_to(at).add_elements([TimestampedValue(request, at)])
    stream = stream.advance_watermark_to_infinity()
    options = CaptionOptions(
        storage_url=out.as_uri(),
        whisper=WhisperSettings(model=str(model), device="cpu", compute_type="int8"),
    )
    pipeline_options = PipelineOptions()
    pipeline_options.view_as(StandardOptions).streaming = True
    with beam.Pipeline(runner=BundleBasedDirectRunner(), options=pipeline_options) as pipeline:
        results = (
            pipeline
            | stream
            | CaptionVideos(options)
            | beam.Map(lambda r: (r.video_id, r.request.event_id, r.status))
        )
        assert_that(results, equal_to(expected))


def test_a_re_upload_of_the_same_file_under_the_same_id_is_answered_again(
    talk: Path, scripted_model: Path, tmp_path: Path
) -> None:
    source = talk.as_uri()
    first = UploadRequest("talk", source, event_id="upload-1")
    again = UploadRequest("talk", source, event_id="upload-2")  # the gateway re-uploads so
    expected = [("talk", "upload-1", "ready"), ("talk", "upload-2", "ready")]
    assert_answers([(10.0, first), (60.0, again)], expected, scripted_model, tmp_path)


def test_the_same_event_twice_is_one_job(talk: Path, scripted_model: Path, tmp_path: Path) -> None:
    request = UploadRequest("talk", talk.as_uri(), event_id="upload-1")
    expected = [("talk", "upload-1", "ready")]
    assert_answers([(10.0, request), (11.0, request)], expected, scripted_model, tmp_path)


def test_a_finished_uploads_state_is_forgotten_after_a_while(
    talk: Path, scripted_model: Path, tmp_path: Path
) -> None:
    # The same event again, long after: its key was forgotten, so it is captioned again (under
    # the same deterministic ids); state does not grow with every upload ever seen.
    request = UploadRequest("talk", talk.as_uri(), event_id="upload-1")
    late = 10.0 + DONE_TTL_S + 60
    expected = [("talk", "upload-1", "ready")] * 2
    assert_answers([(10.0, request), (late, request)], expected, scripted_model, tmp_path)
