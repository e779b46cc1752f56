"""The same graph through Beam's portable path (what Flink runs): pickling, coders, state."""

from __future__ import annotations

import json
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.caption_files import caption_files, requests_for_files
from transforms.settings import CaptionOptions, WhisperSettings


def test_caption_files_runs_on_the_portable_runner(
    media, scripted_model: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    good = media("webm", name="portable.webm", clip="speech_b")
    broken = media("text_mp4", name="portable_text.mp4")
    requests = requests_for_files([str(good), str(broken)])
    options = CaptionOptions(
        storage_url=str(tmp_path),
        whisper=WhisperSettings(model=str(scripted_model), device="cpu", compute_type="int8"),
        reshuffle=True,  # as on Flink: chunks cross a shuffle, so they must survive coders
    )
    pipeline_options = PipelineOptions(
        ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"]
    )
    with beam.Pipeline(options=pipeline_options) as pipeline:
        caption_files(pipeline, requests, options)

    ready = json.loads((tmp_path / "captions/portable/manifest.json").read_text())
    failed = json.loads((tmp_path / "captions/portable_text/manifest.json").read_text())
    assert ready["status"] == "ready" and ready["cues"] > 0
    assert (tmp_path / "captions/portable/en.vtt").read_text().startswith("WEBVTT")
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "unsupported_media"
