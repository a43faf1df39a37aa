"""Small secrets sealed at rest: AES-256-GCM under a key derived from ``DJANGO_SECRET_KEY``.

A database dump alone does not reveal a sealed value. Each value is bound to a *context* (e.g.
the API key it belongs to) as associated data, so a sealed value copied onto another row does
not open there. Rotating ``DJANGO_SECRET_KEY``: keep the old one in
``DJANGO_SECRET_KEY_FALLBACKS`` and values sealed under it still open (new ones are sealed
under the current key).

Format: version byte 1, 12-byte random nonce, ciphertext with its 16-byte tag.

Every sealed column registers itself here (``register``, next to its model): ``manage.py
rotate_secret_key`` walks the registry and re-seals each value under the current key, so a new
sealed field joins the rotation by registering, not by editing the command. A value stored in
text (allauth's MFA secrets) goes through ``seal_text`` / ``unseal_text``, which mark it with
``TEXT_PREFIX`` so plain values written before sealing still open (and rotation seals them).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

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


def sealed_under_current_key(sealed: bytes | memoryview, *, context: str) -> bool:
    """True when ``sealed`` opens under the current secret key (rotation has nothing to do)."""
    sealed = bytes(sealed)
    if len(sealed) < 1 + NONCE + TAG or sealed[:1] != VERSION:
        return False
    try:
        _cipher(settings.SECRET_KEY).decrypt(sealed[1:1 + NONCE], sealed[1 + NONCE:], context.encode())
    except InvalidTag:
        return False
    return True


TEXT_PREFIX = "sealed:v1:"


def seal_text(plain: str, *, context: str) -> str:
    return TEXT_PREFIX + base64.urlsafe_b64encode(seal(plain.encode(), context=context)).decode()


def unseal_text(stored: str, *, context: str) -> str:
    """The plain text of a ``seal_text`` value; a value without the prefix is returned as it is
    (stored before sealing)."""
    if not stored.startswith(TEXT_PREFIX):
        return stored
    return unseal(base64.urlsafe_b64decode(stored[len(TEXT_PREFIX):]), context=context).decode()


def text_under_current_key(stored: str, *, context: str) -> bool:
    return stored.startswith(TEXT_PREFIX) and sealed_under_current_key(
        base64.urlsafe_b64decode(stored[len(TEXT_PREFIX):]), context=context
    )


@dataclass(frozen=True)
class SealedField:
    """A model field holding sealed values, and how to re-seal one row's value.

    ``reseal(row)`` returns the value to store under the current key, or None when the row holds
    nothing sealed or is already sealed under the current key; it raises ``Unsealable`` when the
    value opens under no known key.
    """

    kind: str
    model: type
    field: str
    reseal: Callable[[object], object]


REGISTRY: dict[str, SealedField] = {}


def register(kind: str, *, model, field: str, reseal: Callable[[object], object]) -> None:
    REGISTRY[kind] = SealedField(kind=kind, model=model, field=field, reseal=reseal)


def register_binary(kind: str, *, model, field: str, context: Callable[[object], str]) -> None:
    """Register a binary column of ``seal`` values bound to ``context(row)``."""

    def reseal(row):
        value = getattr(row, field)
        if value is None or sealed_under_current_key(value, context=context(row)):
            return None
        return seal(unseal(value, context=context(row)), context=context(row))

    register(kind, model=model, field=field, reseal=reseal)
