"""The event contracts: the upload parser, outgoing events, video ids and the schema files."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from schemas import (
    CaptionError,
    CaptionsFailed,
    CaptionsReady,
    ErrorCode,
    Failure,
    TrackRef,
    UploadRequest,
    is_safe_video_id,
    load_schema,
    parse_upload_event,
    validate_video_id,
    video_id_from_filename,
)
from schemas.events import RAW_LIMIT
from schemas.ids import canonical_language, is_language_code
from schemas.validation import MAX_EVENT_BYTES, SCHEMA_NAMES

FULL_EVENT: dict[str, Any] = {
    "event_id": "evt-1",
    "video_id": "talk-2026.final_v2",
    "source": "s3://media-bucket/videos/talk-2026.final_v2/talk.mp4",
    "language": "de",
    "translate_to": ["en"],
    "hotwords": "ComfyUI, Kubernetes",
    "initial_prompt": "A talk about the ComfyUI folder.",
    "occurred_at": "2026-11-26T10:00:00Z",
}


_DROP = object()  # marks a field to leave out


def _event(**changes: object) -> str:
    event = {"video_id": "abc", "source": "file:///data/abc.mp4", **changes}
    return json.dumps({k: v for k, v in event.items() if v is not _DROP})


def _invalid(raw: str | bytes) -> str:
    with pytest.raises(CaptionError) as info:
        parse_upload_event(raw)
    assert info.value.code == ErrorCode.INVALID_EVENT
    return info.value.message


# --- valid events -----------------------------------------------------------------------------


def test_full_event_round_trips():
    request = parse_upload_event(json.dumps(FULL_EVENT))
    assert request == UploadRequest(
        video_id="talk-2026.final_v2",
        source=FULL_EVENT["source"],
        language="de",
        translate_to=("en",),
        event_id="evt-1",
        occurred_at="2026-11-26T10:00:00Z",
        hotwords="ComfyUI, Kubernetes",
        initial_prompt="A talk about the ComfyUI folder.",
    )
    assert json.loads(request.to_json()) == FULL_EVENT
    assert parse_upload_event(request.to_json().encode()) == request


def test_minimal_event_leaves_optional_fields_out():
    request = parse_upload_event(b'{"video_id": "v1", "source": "file:///srv/v1.mp4"}')
    assert request.language is None and request.translate_to == () and request.event_id is None
    assert request.to_event() == {"video_id": "v1", "source": "file:///srv/v1.mp4"}


@pytest.mark.parametrize("language", ["auto", None])
def test_auto_or_null_language_means_detect(language):
    assert parse_upload_event(_event(language=language)).language is None


def test_unknown_fields_are_ignored_for_forward_compatibility():
    request = parse_upload_event(_event(uploader="alice", size=123))
    assert request.video_id == "abc"


def test_translate_to_accepts_any_code_the_pipeline_decides_support():
    assert parse_upload_event(_event(translate_to=["fr", "yue"])).translate_to == ("fr", "yue")


def test_language_codes_follow_one_rule_a_region_and_a_script_included():
    event = _event(translate_to=["pt-BR", "zh-Hans", "es-419"])
    assert parse_upload_event(event).translate_to == ("pt-BR", "zh-Hans", "es-419")
    for code in ("pt-br", "PT-BR", "pt_BR", "portuguese", "zh-hans"):
        assert _invalid(_event(translate_to=[code])).startswith("translate_to")
    # The spoken language is Whisper's to hear: one of its codes, no region.
    assert "not a language Whisper speaks" in _invalid(_event(language="pt-BR"))
    assert "not a language Whisper speaks" in _invalid(_event(language="xx"))


def test_language_codes_are_made_canonical_from_any_case():
    assert canonical_language("PT-br") == "pt-BR" and canonical_language("zh_hans") == "zh-Hans"
    assert canonical_language("es-419") == "es-419" and canonical_language("EN") == "en"
    assert canonical_language("english") is None and canonical_language("pt-") is None
    assert all(is_language_code(c) for c in ("en", "yue", "pt-BR", "zh-Hant-TW"))
    assert not any(is_language_code(c) for c in ("EN", "pt-br", "e", "pt-BRA"))


def test_upload_request_built_in_code_is_validated_like_an_event():
    assert UploadRequest("v1", "file:///x.mp4", translate_to=["en"]).translate_to == ("en",)  # type: ignore[arg-type]
    with pytest.raises(CaptionError, match="video_id"):
        UploadRequest("../v1", "file:///x.mp4")
    with pytest.raises(CaptionError, match="translate_to"):
        UploadRequest("v1", "file:///x.mp4", translate_to="en")  # type: ignore[arg-type]


# --- invalid events ---------------------------------------------------------------------------


def test_bad_json_is_invalid_event():
    assert "not valid JSON" in _invalid('{"video_id": "abc",')


def test_non_utf8_bytes_are_invalid_event():
    assert "UTF-8" in _invalid(b'{"video_id": "\xff"}')


def test_oversized_event_is_invalid_event():
    assert "over" in _invalid(b" " * (MAX_EVENT_BYTES + 1))


def test_event_that_is_not_an_object_is_invalid_event():
    assert "object" in _invalid("[1, 2]")


@pytest.mark.parametrize("field", ["video_id", "source"])
def test_missing_required_field_is_named(field):
    assert _invalid(_event(**{field: _DROP})) == f"{field}: required field is missing"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("video_id", 42),
        ("source", ["file:///x"]),
        ("language", 5),
        ("translate_to", "en"),
        ("event_id", 7),
        ("occurred_at", 1764151200),
    ],
)
def test_wrong_type_names_the_field(field, value):
    assert _invalid(_event(**{field: value})).startswith(f"{field}")


@pytest.mark.parametrize(
    "video_id",
    [
        "../../etc/passwd",
        "a/b",
        "..",
        "",
        "a" * 129,
        "a..b",
        ".hidden",
        "-rf",
        "abc\n",
        "caf\u00e9",
        "a b",
        "a\\b",
    ],
)
def test_unsafe_video_id_is_invalid_event(video_id):
    message = _invalid(_event(video_id=video_id))
    assert message.startswith("video_id:")
    assert not is_safe_video_id(video_id)


@pytest.mark.parametrize(
    "source",
    [
        "http://example.com/v.mp4",
        "https://example.com/v.mp4",
        "ftp://host/v.mp4",
        "data:video/mp4;base64,AAAA",
        "file://relative/v.mp4",
        "file:relative.mp4",
        "file:///",
        "/abs/path/without/scheme.mp4",
        "s3://",
        "s3://bucket",
        "s3://Bad_Bucket/key",
        "file:///data/v.mp4\n",
    ],
)
def test_unsupported_source_is_invalid_event(source):
    assert _invalid(_event(source=source)).startswith("source:")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("language", "english"),
        ("language", "EN"),
        ("translate_to", ["EN"]),
        ("translate_to", ["en", "en"]),
        ("occurred_at", "yesterday"),
        ("occurred_at", "2026-13-01T00:00:00Z"),
        ("occurred_at", "2026-11-26T10:00:00"),
        ("event_id", ""),
        ("hotwords", ""),
        ("hotwords", "   "),
        ("hotwords", "x" * 501),
        ("hotwords", ["ComfyUI"]),
        ("hotwords", "Comfy\nUI"),
        ("initial_prompt", "y" * 1001),
        ("initial_prompt", "tab\there"),
        ("initial_prompt", 42),
    ],
)
def test_malformed_optional_field_is_named(field, value):
    assert _invalid(_event(**{field: value})).startswith(field)


# --- video ids --------------------------------------------------------------------------------


@pytest.mark.parametrize("video_id", ["a", "A1", "talk-2026.final_v2", "9" * 128, "a.b-c_d"])
def test_safe_video_ids_pass(video_id):
    assert validate_video_id(video_id) == video_id


def test_validate_video_id_raises_invalid_event_naming_the_rule():
    with pytest.raises(CaptionError) as info:
        validate_video_id("../x")
    assert info.value.code == ErrorCode.INVALID_EVENT
    assert "'..'" in info.value.message


def test_clean_file_name_keeps_its_stem():
    assert video_id_from_filename("talk-2026.mp4") == "talk-2026"
    assert video_id_from_filename("/videos/in/talk.final.mov") == "talk.final"


def test_spaces_and_brackets_become_underscores_with_a_hash():
    video_id = video_id_from_filename("My Talk (1).mp4")
    assert video_id.startswith("My_Talk_1-")
    assert is_safe_video_id(video_id)


def test_non_ascii_letters_are_folded_and_hashed():
    video_id = video_id_from_filename("Grüße café.mov")
    assert video_id.startswith("Gru_e_cafe-")
    assert video_id.isascii() and is_safe_video_id(video_id)


def test_file_names_are_mapped_deterministically():
    assert video_id_from_filename("Grüße café.mov") == video_id_from_filename("Grüße café.mov")


def test_distinct_names_that_sanitize_alike_do_not_collide():
    names = [
        "My Talk (1).mp4",
        "My Talk [1].mp4",
        "My_Talk_1.mp4",
        "My  Talk 1.mp4",
        "my talk 1.mp4",
    ]
    ids = [video_id_from_filename(n) for n in names]
    assert len(set(ids)) == len(names)


def test_long_names_are_cut_to_128_characters_and_stay_distinct():
    a = video_id_from_filename("x" * 300 + "a.mp4")
    b = video_id_from_filename("x" * 300 + "b.mp4")
    assert len(a) == len(b) == 128 and a != b
    assert is_safe_video_id(a) and is_safe_video_id(b)


@pytest.mark.parametrize(
    "name", ["..", ".hidden.mp4", "---.mp4", "日本語.mp4", "", "a..b.mp4", "C:\\videos\\x y.mp4"]
)
def test_awkward_names_still_give_a_safe_id(name):
    video_id = video_id_from_filename(name)
    assert is_safe_video_id(video_id), video_id
    assert video_id[0].isalnum()


# --- outgoing events --------------------------------------------------------------------------


TRACK = TrackRef("en", "captions", "vtt", "file:///out/captions/abc/en.vtt", "captions/abc/en.vtt")


def test_captions_ready_round_trips_and_has_a_deterministic_id():
    request = parse_upload_event(json.dumps(FULL_EVENT))
    kwargs = dict(
        language="de",
        duration_s=36.6,
        tracks=[TRACK],
        manifest_uri="file:///out/captions/abc/manifest.json",
        model="small",
        pipeline_version="1.0",
        completed_at="2026-11-26T10:01:00Z",
    )
    event = CaptionsReady.for_upload(request, **kwargs)  # type: ignore[arg-type]
    again = CaptionsReady.for_upload(request, **{**kwargs, "completed_at": "2026-11-27T00:00:00Z"})  # type: ignore[arg-type]
    newer = CaptionsReady.for_upload(request, **{**kwargs, "pipeline_version": "1.1"})  # type: ignore[arg-type]
    assert event.event_id == again.event_id != newer.event_id
    document = json.loads(event.to_json())
    assert document["status"] == "ready" and document["upload_event_id"] == "evt-1"
    assert CaptionsReady.from_json(event.to_json()) == event


def test_captions_ready_with_a_bad_field_is_a_bug():
    with pytest.raises(ValueError, match="language"):
        CaptionsReady(
            "e", None, "abc", "english", 1.0, (), "file:///m", "small", "2026-11-26T10:00:00Z"
        )


def test_captions_failed_for_a_bad_event_keeps_the_raw_message_truncated():
    raw = b'{"video_id": "../../etc/passwd", "source": "' + b"x" * 5000 + b'"}'
    with pytest.raises(CaptionError) as info:
        parse_upload_event(raw)
    failure = Failure("../../etc/passwd", info.value.code, info.value.message)
    event = CaptionsFailed.for_failure(failure, raw=raw, failed_at="2026-11-26T10:00:00Z")
    assert event.video_id is None  # unsafe ids never travel on
    assert event.raw is not None and len(event.raw) == RAW_LIMIT
    assert event.error.code == ErrorCode.INVALID_EVENT
    document = json.loads(event.to_json())
    assert document["status"] == "failed" and document["error"]["code"] == "invalid_event"
    assert CaptionsFailed.from_json(event.to_json()) == event
    assert CaptionsFailed.for_failure(failure, raw=raw).event_id == event.event_id


def test_captions_failed_for_a_known_upload():
    request = parse_upload_event(json.dumps(FULL_EVENT))
    failure = Failure(request.video_id, ErrorCode.NO_AUDIO_STREAM, "no audio", request.source)
    event = CaptionsFailed.for_failure(failure, request=request)
    assert event.video_id == request.video_id and event.upload_event_id == "evt-1"
    assert event.raw is None


def test_parsing_a_foreign_message_as_captions_ready_is_invalid_event():
    with pytest.raises(CaptionError) as info:
        CaptionsReady.from_json(json.dumps(FULL_EVENT))
    assert info.value.code == ErrorCode.INVALID_EVENT


# --- schema files -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_files_are_valid_draft_2020_12(name):
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_shared_definitions_are_identical_in_every_schema_file():
    shared: dict[str, object] = {}
    for name in SCHEMA_NAMES:
        for key, definition in load_schema(name)["$defs"].items():
            assert shared.setdefault(key, definition) == definition, (name, key)
