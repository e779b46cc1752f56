"""Webhook signatures in the Standard Webhooks form (`connectors.webhooks`) and the endpoints
`autocaption notify` takes."""

from __future__ import annotations

import pytest

from connectors.webhooks import Endpoint, parse_secret, sign, verify
from pipelines.notify_service import read_endpoints

# The test vector of the Standard Webhooks reference libraries.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MESSAGE_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_signature_is_the_reference_one() -> None:
    assert sign(parse_secret(SECRET), MESSAGE_ID, TIMESTAMP, BODY) == SIGNATURE


def test_a_receiver_verifies_id_time_and_body() -> None:
    key = parse_secret(SECRET)
    headers = {
        "webhook-id": MESSAGE_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": f"v1,bm90IHRoaXMgb25l {SIGNATURE}",  # one of several matches
    }
    assert verify(key, headers, BODY, now=TIMESTAMP + 10)
    assert not verify(key, headers, BODY + b" ", now=TIMESTAMP)  # another body
    assert not verify(key, {**headers, "webhook-id": "msg_other"}, BODY, now=TIMESTAMP)
    assert not verify(key, headers, BODY, now=TIMESTAMP + 301)  # too old: a replay
    assert not verify(parse_secret("x" * 24), headers, BODY, now=TIMESTAMP)  # another secret
    assert not verify(key, {}, BODY, now=TIMESTAMP)


def test_secrets_and_endpoints_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 24"):
        parse_secret("short")
    with pytest.raises(ValueError, match="base64"):
        parse_secret("whsec_***")
    for url in ("file:///etc/passwd", "gopher://x", "http://", "https://user:pw@host/hook"):
        with pytest.raises(ValueError):
            Endpoint(url, b"k" * 24)
    endpoints = read_endpoints(
        ["https://a.example/hook"],
        SECRET,
        '[{"url": "http://b.example:8080/in", "secret": "' + "s" * 30 + '"}]',
    )
    assert [e.url for e in endpoints] == ["https://a.example/hook", "http://b.example:8080/in"]
    with pytest.raises(ValueError, match="--secret"):
        read_endpoints(["https://a.example/hook"], None, None)
    with pytest.raises(ValueError, match="at least one"):
        read_endpoints([], SECRET, None)
    with pytest.raises(ValueError, match="url"):
        read_endpoints([], None, '[{"secret": "x"}]')
