"""CLI pieces that need no pipeline run: option validation, ids for inputs, progress."""

from __future__ import annotations

import io
from contextlib import redirect_stderr

import pytest

from pipelines.caption_files import refused_input, requests_for_files
from pipelines.cli import build_parser, main
from pipelines.options import UsageError, caption_options, refuse_unknown
from pipelines.progress_bar import show_progress
from transforms.domain import CaptionResult
from transforms.progress import report


def _args(*extra: str):  # type: ignore[no-untyped-def]
    args, _ = build_parser().parse_known_args(["caption", "x.mp4", "--out", "o", *extra])
    return args


def test_defaults_are_the_documented_ones() -> None:
    options = caption_options(_args(), "file:///tmp/o")
    assert options.whisper.model == "small"
    assert options.whisper.beam_size == 5 and options.whisper.batch_size == 0
    assert options.default_language is None
    assert options.formats == ("vtt", "srt", "ttml", "json")
    assert options.rules.max_chars_per_line == 42 and options.rules.max_lines == 2
    assert options.reshuffle is False


def test_vocabulary_options_become_the_defaults_of_every_upload() -> None:
    options = caption_options(_args("--hotwords", "ComfyUI", "--initial-prompt", "Hi."), "o")
    assert (options.hotwords, options.initial_prompt) == ("ComfyUI", "Hi.")
    assert caption_options(_args(), "o").hotwords is None


def test_urls_of_other_schemes_are_refused_as_inputs_never_fetched() -> None:
    failure = refused_input("http://example.com/a.mp4")
    assert failure is not None and failure.code == "invalid_event"
    assert failure.video_id == "a" and "never fetched" in failure.message
    assert refused_input("talk.mp4") is None and refused_input("s3://b/k.mp4") is None
    assert refused_input("file:///srv/t.mp4") is None


def test_chunks_are_reshuffled_on_distributed_runners_only() -> None:
    assert caption_options(_args("--runner", "FlinkRunner"), "o").reshuffle is True
    assert (
        caption_options(_args("--runner", "PortableRunner", "--reshuffle", "off"), "o").reshuffle
        is False
    )
    assert caption_options(_args("--reshuffle", "on"), "o").reshuffle is True


def test_environment_variables_set_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOCAPTION_BEAM_SIZE", "2")
    monkeypatch.setenv("AUTOCAPTION_LANGUAGE", "de")
    options = caption_options(_args(), "o")
    assert options.whisper.beam_size == 2 and options.default_language == "de"
    assert caption_options(_args("--beam-size", "3"), "o").whisper.beam_size == 3
    monkeypatch.setenv("AUTOCAPTION_INFERENCE_WORKERS", "3")
    assert caption_options(_args(), "o").whisper.inference_workers == 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--language", "xx"), "--language"),
        (
            ("--translate-to", "de"),
            "no configured translator makes de; these can be made: en, pt-BR",
        ),
        (("--translate-to", "not a code"), "not a language code"),
        (("--translators", "deepl"), "unknown translator"),
        (("--formats", "vtt,ass"), "--formats"),
        (("--batch-size", "-1"), "--batch-size"),
        (("--inference-workers", "-1"), "--inference-workers"),
        (("--cpu-threads", "-2"), "--cpu-threads"),
        (("--max-duration", "-1"), "--max-duration"),
        (("--hotwords", "x" * 501), "--hotwords"),
        (("--initial-prompt", "a\tb"), "--initial-prompt"),
    ],
)
def test_bad_options_are_usage_errors(extra: tuple[str, ...], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        caption_options(_args(*extra), "o")


def test_usage_error_is_one_line_and_exit_code_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    err = io.StringIO()
    with redirect_stderr(err):
        code = main(["caption", "x.mp4", "--out", str(tmp_path), "--model", str(tmp_path / "none")])
    assert code == 2
    assert err.getvalue().count("\n") == 1 and "--model" in err.getvalue()


def test_inputs_with_the_same_name_get_distinct_ids() -> None:
    requests = requests_for_files(["a/talk.mp4", "b/talk.mp4", "c/other.mov"])
    ids = [r.video_id for r in requests]
    assert len(set(ids)) == 3
    assert ids[2] == "other"
    assert all(i.startswith("talk-") for i in ids[:2])
    assert all(r.source.startswith("file:///") for r in requests)
    assert requests_for_files(["a/talk.mp4", "b/talk.mp4"]) == requests[:2]  # deterministic


def test_progress_reports_each_file_and_the_total() -> None:
    err = io.StringIO()
    with show_progress(2, stream=err) as progress:
        assert progress is not None
        report("chunk", "a", index=1)
        result = CaptionResult("a", "file:///a.mp4", "ready", "file:///o/a/manifest.json", cues=4)
        report("ready", "a", result=result)
        progress.done(1, 1, 2.5)
    report("ready", "b", result=result)  # after the block: nobody listens
    text = err.getvalue()
    assert "[1/2] a: ready (4 cues)" in text
    assert "1 ready, 1 failed in 2.5 s" in text
    assert "b: ready" not in text


@pytest.mark.parametrize(
    ("command", "typo", "meant"),
    [
        (["caption", "x.flac", "--out", "o"], "--langauge", "--language"),
        (["stream", "--bootstrap-servers", "b", "--storage", "s"], "--max-btach-records",
         "--max-batch-records"),
        (["backfill", "--manifest", "m.csv", "--storage", "s", "--report", "r"], "--skip-exsting",
         "--skip-existing"),
        (["serve", "--bootstrap-servers", "b", "--storage", "s"], "--api-kye", "--api-key"),
        (["publish", "f.mp4", "--bootstrap-servers", "b", "--storage", "s"], "--vidoe-id",
         "--video-id"),
        (["models", "fetch", "base-pypi"], "--forse", None),
    ],
)  # fmt: skip
def test_an_option_nobody_knows_is_refused_with_a_suggestion(
    command: list[str], typo: str, meant: str | None
) -> None:
    err = io.StringIO()
    with redirect_stderr(err):
        code = main([*command, typo, "fr"])
    assert code == 2, err.getvalue()
    said = err.getvalue()
    assert said.count("\n") == 1 and f"unknown option {typo}" in said
    if meant:
        assert f"did you mean {meant}?" in said
    # an option that does not exist at all is not passed to Beam as a pipeline option either
    assert "Unparseable" not in said


def test_beam_pipeline_options_are_still_taken_by_commands_that_run_a_pipeline() -> None:
    args, extra = build_parser().parse_known_args(
        ["caption", "x.mp4", "--out", "o", "--direct_num_workers=2", "--job_endpoint", "embed"]
    )
    refuse_unknown(extra, args)  # nothing raised: Beam knows both
    with pytest.raises(UsageError, match="did you mean --direct_num_workers"):
        refuse_unknown(["--direct_num_worker=2"], args)
