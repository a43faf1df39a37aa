"""Text hygiene shared by every input path: PostgreSQL rejects NUL, and lone surrogates
cannot be encoded as UTF-8, so NUL is stripped and lone surrogates are refused."""

from __future__ import annotations

import hashlib
import re

from apps.core.errors import ValidationFailed

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidText(ValueError):
    pass


def clean_text(value: str) -> str:
    if _LONE_SURROGATE.search(value):
        raise InvalidText("text contains a lone UTF-16 surrogate, which is not valid Unicode")
    return value.replace("\x00", "") if "\x00" in value else value


def clean_json(value):
    """Recursively apply ``clean_text`` to every string (keys included) of decoded JSON."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(key): clean_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    return value


def required_name(name: str, field: str = "name") -> str:
    """A trimmed, non-empty display name of at most 100 characters (organizations, projects, keys)."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("A name is required.", field=field)
    if len(name) > 100:
        raise ValidationFailed("Names are at most 100 characters.", field=field)
    return name


def sha256_hex(text: str) -> str:
    """Hash of a high-entropy token (invitation tokens, API key secrets); only this is stored."""
    return hashlib.sha256(text.encode()).hexdigest()
