"""Playback tokens of private videos: JWTs bound to one video, with an expiry, and optionally
the client's IP address and the origins allowed to use them.

Two kinds of key check them:

- HS256 with the gateway's signing keys (`--signing-key`, several while one is rotated out:
  the first signs, every one verifies), for tokens that `POST /v1/videos/{id}/token` issues;
- EdDSA (Ed25519) with public keys (`--token-public-key`), for tokens a publisher's own backend
  signs with its private key, which the gateway never sees.

The algorithm a token names picks the keys tried, and only those: `alg: none`, an HS256 token
signed with a public key as its secret, any other algorithm, are refused. A token is refused
unless it names the video (`sub`) and has not expired (`exp`); `ip` and `origins` bind it
further when present. PyJWT compares signatures in constant time, and every key is tried, so
the time says nothing of which key matched.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

MIN_SECRET_BYTES: Final = 32  # RFC 7518: an HS256 key of at least the hash's size
MAX_TTL_S: Final = 7 * 24 * 3600
DEFAULT_TTL_S: Final = 3600
ISSUER: Final = "autocaption"
_LEEWAY_S: Final = 1  # clock skew between a publisher's signer and the gateway


@dataclass(frozen=True)
class TokenKeys:
    """The keys of the gateway's tokens. No secret: the gateway issues none; no key at all:
    private videos are read only with the API key."""

    secrets: tuple[str, ...] = ()
    public_keys: tuple[Ed25519PublicKey, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        for secret in self.secrets:
            if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
                raise ValueError(f"a signing key is at least {MIN_SECRET_BYTES} bytes")

    @property
    def can_issue(self) -> bool:
        return bool(self.secrets)


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; `ValueError` for anything else."""
    key = load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("a token public key is an Ed25519 key (EdDSA), in PEM")
    return key


def issue(
    keys: TokenKeys,
    video_id: str,
    ttl_s: int = DEFAULT_TTL_S,
    *,
    ip: str | None = None,
    origins: Sequence[str] = (),
    now: float | None = None,
) -> tuple[str, int]:
    """(a token for the video, its expiry in Unix seconds), signed with the first secret."""
    if not keys.secrets:
        raise ValueError("no signing key is configured")
    if not 1 <= ttl_s <= MAX_TTL_S:
        raise ValueError(f"a token lives 1 to {MAX_TTL_S} seconds")
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {"iss": ISSUER, "sub": video_id, "iat": issued, "exp": issued + ttl_s}
    if ip:
        claims["ip"] = ip
    if origins:
        claims["origins"] = list(origins)
    return jwt.encode(claims, keys.secrets[0], algorithm="HS256"), issued + ttl_s


def accepts(
    keys: TokenKeys,
    token: str,
    video_id: str,
    *,
    ip: str | None = None,
    origin: str | None = None,
) -> bool:
    """Whether `token` lets this request read `video_id`."""
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError:
        return False
    if algorithm == "HS256":
        candidates: Sequence[Any] = keys.secrets
    elif algorithm == "EdDSA":
        candidates = keys.public_keys
    else:
        return False
    claims = None
    for key in candidates:  # every key, whichever matched
        decoded = _decode(token, key, algorithm)
        claims = claims or decoded
    if claims is None:
        return False
    subject = str(claims.get("sub", ""))
    accepted = hmac.compare_digest(subject.encode("utf-8"), video_id.encode("utf-8"))
    bound_ip = claims.get("ip")
    if bound_ip is not None and bound_ip != ip:
        accepted = False
    origins = claims.get("origins")
    if origins is not None and (not isinstance(origins, list) or origin not in origins):
        accepted = False
    return accepted


def _decode(token: str, key: Any, algorithm: str) -> dict[str, Any] | None:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            options={"require": ["exp", "sub"], "verify_aud": False},
            leeway=_LEEWAY_S,
        )
    except jwt.PyJWTError:
        return None
    return claims
