"""Signed no-login feedback URLs and API key parsing.

Byte-for-byte the scheme of DESIGN.md ("Signed feedback URLs"), shared with the JS SDK and the
server (``apps/feedback/signing.py``); ``sdk/test-vectors/feedback-url.json`` is the contract::

    signing key = HMAC-SHA256(key=<secret API key, UTF-8>, msg="agentloop-feedback-v1")
    payload     = base64url-nopad(JSON {"exp","k","p","t","u","v"} sorted keys, no spaces, UTF-8)
    signature   = base64url-nopad(HMAC-SHA256(signing key, payload as ASCII))
    URL         = {host}/f/{payload}.{signature}
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

SIGNING_CONTEXT = b"agentloop-feedback-v1"
VERSION = 1
KEY_PREFIX = "al_sk_"


def parse_api_key(api_key: str) -> tuple[str, str]:
    """Split ``al_sk_<key id>_<secret>`` into ``(key id, secret)``.

    The key id never contains ``_``; the secret may contain ``_`` and ``-``. Raises ``ValueError``
    for anything else (the client catches it: a bad key never raises into the host app).
    """
    if not isinstance(api_key, str) or not api_key.startswith(KEY_PREFIX):
        raise ValueError("an AgentLoop API key looks like al_sk_<key id>_<secret>")
    key_id, separator, secret = api_key[len(KEY_PREFIX):].partition("_")
    if not separator or not key_id or not secret:
        raise ValueError("an AgentLoop API key looks like al_sk_<key id>_<secret>")
    return key_id, secret


def derive_signing_key(api_key: str) -> bytes:
    """The 32-byte key that signs feedback URLs, derived from the whole secret API key."""
    return hmac.new(api_key.encode("utf-8"), SIGNING_CONTEXT, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_payload(*, exp: int, key_id: str, project_id: str, turn_id: str, user_id: str = "") -> str:
    claims = {
        "exp": int(exp), "k": str(key_id), "p": str(project_id), "t": str(turn_id),
        "u": str(user_id) if user_id else "", "v": VERSION,
    }
    text = json.dumps(claims, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _b64(text.encode("utf-8"))


def sign_payload(payload: str, signing_key: bytes) -> str:
    return _b64(hmac.new(signing_key, payload.encode("ascii"), hashlib.sha256).digest())


def feedback_url(
    *, host: str, signing_key: bytes, exp: int, key_id: str, project_id: str, turn_id: str, user_id: str = ""
) -> str:
    """``{host}/f/{payload}.{signature}``; a trailing ``/`` on the host is ignored."""
    payload = encode_payload(exp=exp, key_id=key_id, project_id=project_id, turn_id=turn_id, user_id=user_id)
    return f"{host.rstrip('/')}/f/{payload}.{sign_payload(payload, signing_key)}"
