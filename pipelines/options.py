"""Command-line options shared by the `autocaption` commands, and their environment variables.

Every option `--some-name` can also be set as `AUTOCAPTION_SOME_NAME`; the command line wins.
Arguments we do not know are handed to Beam as pipeline options (`--direct_num_workers=2`,
`--job_endpoint=...`), so any runner setting works without a wrapper. Nothing here imports Beam
or faster-whisper until a command runs, so `autocaption --help` stays quick.
"""

from __future__ import annotations

import argparse
import difflib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import apache_beam as beam

from captions.cues import CaptionRules
from connectors.kafka.config import KafkaConfig, Topics
from connectors.storage import open_store
from connectors.storage.store import ObjectStore
from connectors.translators import TranslatorSpec, language_code, parse_translator
from connectors.translators.routes import refuse_reason
from schemas.errors import CaptionError
from schemas.events import UploadRequest
from schemas.formats import FORMAT_NAMES
from transforms.chunks import ChunkingOptions
from transforms.settings import CaptionOptions, WhisperSettings

DEFAULT_MODEL = "small"
LOCAL_RUNNERS = {"directrunner", "direct", "fnapirunner"}


class UsageError(Exception):
    """A bad option value: reported as one line, exit code 2."""


def env_default(name: str, default: Any) -> Any:
    return os.environ.get("AUTOCAPTION_" + name.upper().replace("-", "_"), default)


def add_option(parser: Any, flag: str, *, default: Any = None, **kwargs: Any) -> None:
    """`--some-flag`, whose default comes from AUTOCAPTION_SOME_FLAG when that is set (argparse
    parses a string default with the option's `type`, exactly like a command-line value)."""
    name = flag.lstrip("-").replace("-", "_")
    parser.add_argument(flag, default=env_default(name, default), **kwargs)


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that runs the captioning graph (docs/architecture.md,
    "Contracts")."""
    group = parser.add_argument_group("captioning")
    add_option(
        group,
        "--model",
        default=DEFAULT_MODEL,
        help="faster-whisper model name (downloaded on first use) or a local CTranslate2 folder "
        f"(default: {DEFAULT_MODEL})",
    )
    add_option(
        group,
        "--language",
        default="auto",
        help="spoken language code (en, de, ...) or 'auto' to detect by a vote over speech chunks",
    )
    add_option(
        group,
        "--translate-to",
        default="",
        help="also make subtitles in these languages (comma-separated BCP 47 codes: pt-BR,en); "
        "refused unless a configured translator makes them (see --translators)",
    )
    add_option(
        group,
        "--translators",
        default="firefox",
        help="text translators, in order of preference, comma-separated: 'firefox' (Mozilla's "
        "English <-> Brazilian Portuguese models, offline) and 'ctranslate2:MODEL' (OPUS-MT, "
        "M2M100, NLLB-200, MADLAD-400 by hub name or folder); English from other speech is "
        "Whisper's own translation (default: firefox)",
    )
    add_option(
        group,
        "--hotwords",
        default=None,
        help="words and names the speech holds, spelled as they must be written "
        "(e.g. 'ComfyUI, Kubernetes'), for uploads that bring no vocabulary of their own",
    )
    add_option(
        group,
        "--initial-prompt",
        default=None,
        help="text the model reads as if said just before the speech (Whisper's initial "
        "prompt: style, spelling, names), for uploads that bring no vocabulary of their own",
    )
    add_option(
        group,
        "--formats",
        default=",".join(FORMAT_NAMES),
        help=f"comma-separated track formats: {','.join(FORMAT_NAMES)} (default: all)",
    )
    add_option(group, "--beam-size", type=int, default=5)
    add_option(
        group,
        "--batch-size",
        type=int,
        default=0,
        help="speech chunks per inference batch, across videos (0: 2 on a CPU, 8 on a GPU)",
    )
    add_option(group, "--device", default="auto", help="auto, cpu or cuda")
    add_option(
        group,
        "--compute-type",
        default="default",
        help="CTranslate2 compute type: default, int8, int8_float16, float16, float32",
    )
    add_option(
        group,
        "--cpu-threads",
        type=int,
        default=0,
        help="CTranslate2 threads per inference worker (0: the cores shared out between them)",
    )
    add_option(
        group,
        "--inference-workers",
        type=int,
        default=0,
        help="inference batches decoded at once per process (0: on a CPU one per core up to 4, "
        "on a GPU 1)",
    )
    add_option(
        group,
        "--max-duration",
        type=float,
        default=4 * 3600,
        help="longest accepted media in seconds; longer fails with media_too_long (default 4 h)",
    )
    add_option(group, "--max-chars-per-line", type=int, default=42)
    add_option(group, "--max-lines", type=int, default=2)
    add_option(
        group,
        "--runner",
        default="DirectRunner",
        help="Beam runner: DirectRunner (local, default), PortableRunner, FlinkRunner, ...",
    )
    add_option(
        group,
        "--reshuffle",
        choices=("auto", "on", "off"),
        default="auto",
        help="spread one video's speech chunks over workers; auto: on for distributed runners, "
        "off locally, where it would hold the audio in memory",
    )


def caption_options(args: argparse.Namespace, storage_url: str) -> CaptionOptions:
    """Validated `CaptionOptions` from parsed arguments; raises UsageError."""
    from transforms.whisper import LANGUAGE_CODES

    language = args.language.strip().lower()
    if language in ("", "auto"):
        default_language = None
    elif language in LANGUAGE_CODES:
        default_language = language
    else:
        raise UsageError(f"--language: unknown language code {args.language!r}")
    translators = translator_options(args)
    translate_to = target_options(args.translate_to, translators)
    formats = tuple(f.strip().lower() for f in args.formats.split(",") if f.strip())
    if not formats or any(f not in FORMAT_NAMES for f in formats):
        raise UsageError(f"--formats: choose from {','.join(FORMAT_NAMES)}, got {args.formats!r}")
    for name in ("beam_size", "max_chars_per_line", "max_lines"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("batch_size", "cpu_threads", "inference_workers"):
        if getattr(args, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} must be 0 (choose) or more")
    if args.max_duration <= 0:
        raise UsageError("--max-duration must be positive")
    hotwords, initial_prompt = vocabulary_options(args)
    whisper = WhisperSettings(
        model=args.model,
        device=args.device,
        compute_type=args.compute_type,
        beam_size=args.beam_size,
        batch_size=args.batch_size,
        cpu_threads=args.cpu_threads,
        inference_workers=args.inference_workers,
        label=getattr(args, "model_label", "") or "",
    )
    rules = CaptionRules(max_chars_per_line=args.max_chars_per_line, max_lines=args.max_lines)
    reshuffle = args.reshuffle == "on" or (
        args.reshuffle == "auto" and args.runner.lower() not in LOCAL_RUNNERS
    )
    return CaptionOptions(
        storage_url=storage_url,
        reshuffle=reshuffle,
        whisper=whisper,
        rules=rules,
        chunking=ChunkingOptions(),
        formats=formats,
        default_language=default_language,
        translate_to=translate_to,
        translators=translators,
        hotwords=hotwords,
        initial_prompt=initial_prompt,
        max_duration_s=args.max_duration,
    )


def translator_options(args: argparse.Namespace) -> tuple[TranslatorSpec, ...]:
    """--translators as specs; raises UsageError."""
    names = [n.strip() for n in getattr(args, "translators", "firefox").split(",") if n.strip()]
    try:
        return tuple(parse_translator(name) for name in names)
    except ValueError as exc:
        raise UsageError(f"--translators: {exc}") from None


def target_options(text: str, translators: Sequence[TranslatorSpec]) -> tuple[str, ...]:
    """--translate-to as canonical language codes, each one a configured translator (or
    Whisper, for English) makes; raises UsageError naming those that can be made."""
    try:
        targets = tuple(dict.fromkeys(language_code(t) for t in text.split(",") if t.strip()))
    except ValueError as exc:
        raise UsageError(f"--translate-to: {exc}") from None
    reason = refuse_reason(targets, translators)
    if reason:
        raise UsageError(f"--translate-to: {reason}")
    return targets


def vocabulary_options(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """--hotwords and --initial-prompt, checked by the same rule as the upload event's fields;
    raises UsageError."""
    hotwords = getattr(args, "hotwords", None) or None
    initial_prompt = getattr(args, "initial_prompt", None) or None
    try:
        UploadRequest("check", "file:///check", hotwords=hotwords, initial_prompt=initial_prompt)
    except CaptionError as exc:
        field, _, problem = exc.message.partition(": ")
        raise UsageError(f"--{field.replace('_', '-')}: {problem}") from None
    return hotwords, initial_prompt


def refuse_unknown(extra: Sequence[str], args: argparse.Namespace) -> None:
    """`UsageError` for an argument neither the command nor (for a command that runs a Beam
    pipeline) Beam's pipeline options know, with the nearest option it may have meant: a typo
    such as `--langauge` must not be passed over as a Beam option Beam then ignores."""
    unknown = _unknown_to_beam(extra) if getattr(args, "takes_beam_options", False) else extra
    if not unknown:
        return
    given = unknown[0]
    flag = given.split("=", 1)[0]
    if not flag.startswith("-"):
        raise UsageError(f"unexpected argument {given!r}")
    known = _option_strings(args)
    if getattr(args, "takes_beam_options", False):
        known += _beam_option_strings()
    near = difflib.get_close_matches(flag, known, n=1, cutoff=0.75)
    hint = f" (did you mean {near[0]}?)" if near else ""
    beam = " nor a Beam pipeline option" if getattr(args, "takes_beam_options", False) else ""
    raise UsageError(f"unknown option {flag}: not an option of this command{beam}{hint}")


def _option_strings(args: argparse.Namespace) -> list[str]:
    parser: argparse.ArgumentParser | None = getattr(args, "parser", None)
    if parser is None:
        return []
    return [s for action in parser._actions for s in action.option_strings if s.startswith("--")]


def _beam_argument_parser() -> argparse.ArgumentParser:
    """Every pipeline option Beam knows, as Beam itself collects them."""
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    parser = _BeamArgumentParser(allow_abbrev=False)
    for cls in {str(c): c for c in PipelineOptions.__subclasses__()}.values():
        cls._add_argparse_args(parser)
    return parser


def _unknown_to_beam(extra: Sequence[str]) -> list[str]:
    if not extra:
        return []
    _, unknown = _beam_argument_parser().parse_known_args(list(extra))
    return list(unknown)


def _beam_option_strings() -> list[str]:
    parser = _beam_argument_parser()
    return [s for action in parser._actions for s in action.option_strings if s.startswith("--")]


def make_pipeline(runner: str, beam_args: Sequence[str]) -> beam.Pipeline:
    """A Beam pipeline on the named runner. The local runner is Beam's FnApiRunner, named
    directly: `DirectRunner` in Beam 2.77 first tries to download Prism, with no timeout."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    options = PipelineOptions(list(beam_args))
    if runner.lower() in LOCAL_RUNNERS:
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner

        return beam.Pipeline(runner=FnApiRunner(), options=options)
    return beam.Pipeline(runner=runner, options=options)


def required_env(name: str) -> dict[str, Any]:
    """argparse settings for an option that is required unless its environment variable is set."""
    value = env_default(name, None)
    return {"default": value, "required": value is None}


def add_kafka_setting_option(group: Any) -> None:
    """`--kafka-option KEY=VALUE`, repeatable: extra librdkafka settings for every client."""
    group.add_argument(
        "--kafka-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra librdkafka setting for every client (repeatable), e.g. security.protocol=SSL",
    )


def add_kafka_options(parser: argparse.ArgumentParser) -> None:
    """Brokers, group, client settings and topic names (stream, publish, serve)."""
    group = parser.add_argument_group("kafka")
    group.add_argument(
        "--bootstrap-servers", **required_env("bootstrap_servers"), help="Kafka brokers H:P,..."
    )
    add_option(group, "--group-id", default="autocaption")
    add_kafka_setting_option(group)
    add_option(group, "--uploaded-topic", default="video.uploaded")
    add_option(group, "--ready-topic", default="captions.ready")
    add_option(group, "--failed-topic", default="captions.failed")
    add_option(
        group,
        "--updated-topic",
        default="captions.updated",
        help="where changes made through the captions API are announced",
    )
    add_option(
        group,
        "--deleted-topic",
        default="video.deleted",
        help="where videos deleted through the gateway are announced",
    )
    group.add_argument(
        "--create-topics",
        action="store_true",
        help="create the five topics if missing (3 partitions each)",
    )


def kafka_config(args: argparse.Namespace) -> KafkaConfig:
    """The `KafkaConfig` of the Kafka options; raises UsageError."""
    options = []
    for item in args.kafka_option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--kafka-option: expected KEY=VALUE, got {item!r}")
        options.append((key.strip(), value.strip()))
    return KafkaConfig(args.bootstrap_servers, args.group_id, tuple(options))


def topics(args: argparse.Namespace) -> Topics:
    return Topics(
        args.uploaded_topic,
        args.ready_topic,
        args.failed_topic,
        args.updated_topic,
        getattr(args, "deleted_topic", "video.deleted"),  # commands without the option
    )


def create_topics_if_asked(args: argparse.Namespace) -> None:
    """`--create-topics`: create whichever of the topics is missing."""
    if args.create_topics:
        from connectors.kafka.admin import ensure_topics

        ensure_topics(kafka_config(args), topics(args).all)


def open_storage(url: str, option: str) -> ObjectStore:
    """The store of a storage option; a bad URL is a UsageError naming the option."""
    try:
        return open_store(url)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None
