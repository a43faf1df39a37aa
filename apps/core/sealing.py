"""Small secrets sealed at rest: AES-256-GCM under a key derived from ``DJANGO_SECRET_KEY``.

A database dump alone does not reveal a sealed value. Each value is bound to a *context* (e.g.
the API key it belongs to) as associated data, so a sealed value copied onto another row does
not open there. Rotating ``DJANGO_SECRET_KEY``: keep the old one in
``DJANGO_SECRET_KEY_FALLBACKS`` and values sealed under it still open (new ones are sealed
under the current key).

Format: version byte 1, 12-byte random nonce, ciphertext with its 16-byte tag.
"""

from __future__ import annotations

import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

VERSION = b"\x01"
NONCE = 12
TAG = 16


class Unsealable(Exception):
    """Not a sealed value, sealed for another context, or sealed under a key no longer known."""


@lru_cache(maxsize=8)
def _cipher(secret_key: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"agentloop sealing v1").derive(secret_key.encode())
    return AESGCM(key)


def seal(plain: bytes, *, context: str) -> bytes:
    nonce = os.urandom(NONCE)
    return VERSION + nonce + _cipher(settings.SECRET_KEY).encrypt(nonce, plain, context.encode())


def unseal(sealed: bytes | memoryview, *, context: str) -> bytes:
    """The plain value; tries the current secret key, then each fallback. Raises ``Unsealable``."""
    sealed = bytes(sealed)
    if len(sealed) < 1 + NONCE + TAG or sealed[:1] != VERSION:
        raise Unsealable("not a sealed value")
    nonce, body = sealed[1:1 + NONCE], sealed[1 + NONCE:]
    for secret_key in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS):
        try:
            return _cipher(secret_key).decrypt(nonce, body, context.encode())
        except InvalidTag:
            continue
    raise Unsealable(f"sealed for another context or under an unknown secret key ({context})")
