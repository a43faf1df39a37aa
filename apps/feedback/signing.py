"""Signed no-login feedback URLs, byte-for-byte the scheme in DESIGN.md (shared with both SDKs).

    signing key = HMAC-SHA256(key=<secret API key, UTF-8>, msg="agentloop-feedback-v1")
    payload     = base64url-nopad(JSON {"exp","k","p","t","u","v"} sorted keys, no spaces, UTF-8)
    signature   = base64url-nopad(HMAC-SHA256(signing key, payload as ASCII))
    URL         = {host}/f/{payload}.{signature}

The server never stores the secret: it keeps the derived signing key of each API key, made
with the key itself (apps.projects.models.derive_signing_key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

from apps.core.body import decode_json
from apps.core.errors import ServiceError

VERSION = 1


class InvalidLink(ValueError):
    """The token is malformed or its signature does not match."""


@dataclass(frozen=True)
class Claims:
    exp: int
    key_id: str
    project_id: str
    turn_id: str
    user_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text):
        raise InvalidLink("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidLink("not base64url") from exc


def encode_payload(*, exp: int, key_id: str, project_id: str, turn_id: str, user_id: str = "") -> str:
    claims = {"exp": int(exp), "k": str(key_id), "p": str(project_id), "t": str(turn_id), "u": user_id or "", "v": VERSION}
    text = json.dumps(claims, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _b64(text.encode("utf-8"))


def sign_payload(payload: str, signing_key: bytes) -> str:
    return _b64(hmac.new(signing_key, payload.encode("ascii"), hashlib.sha256).digest())


def make_token(*, signing_key: bytes, exp: int, key_id: str, project_id: str, turn_id: str, user_id: str = "") -> str:
    payload = encode_payload(exp=exp, key_id=key_id, project_id=project_id, turn_id=turn_id, user_id=user_id)
    return f"{payload}.{sign_payload(payload, signing_key)}"


def make_url(*, host: str, **claims) -> str:
    return f"{host.rstrip('/')}/f/{make_token(**claims)}"


def read_claims(token: str) -> tuple[Claims, str, str]:
    """Decode (without verifying) a token into its claims, payload and signature."""
    payload, dot, signature = token.partition(".")
    if not dot or not payload or not signature:
        raise InvalidLink("expected <payload>.<signature>")
    try:
        # Read before the signature can be checked (it names the key): through the JSON door, so
        # a hostile payload (deep, NaN, not UTF-8) is a malformed link, never an exception.
        data = decode_json(_unb64(payload))
    except ServiceError as exc:
        raise InvalidLink("payload is not JSON") from exc
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise InvalidLink("unknown link version")
    exp, ids = data.get("exp"), [data.get(name) for name in ("k", "p", "t")]
    user_id = data.get("u", "")
    if type(exp) is not int or not all(isinstance(value, str) for value in (*ids, user_id)):
        raise InvalidLink("missing claims: exp must be an integer, k, p, t and u strings")
    claims = Claims(exp=exp, key_id=ids[0], project_id=ids[1], turn_id=ids[2], user_id=user_id)
    return claims, payload, signature


def signature_matches(payload: str, signature: str, signing_key: bytes) -> bool:
    """Constant-time comparison of the expected and the given signature."""
    return hmac.compare_digest(sign_payload(payload, signing_key).encode("ascii"), signature.encode("ascii", "replace"))
