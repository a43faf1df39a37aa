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
    """A copy of decoded JSON with ``clean_text`` applied to every string (keys included).

    Walked with an explicit stack, not recursion: however deep the value, this cannot raise
    ``RecursionError`` (the JSON door also limits depth, see ``apps.core.body.decode_json``).
    """
    if isinstance(value, str):
        return clean_text(value)
    if not isinstance(value, (dict, list)):
        return value
    copy = {} if isinstance(value, dict) else []
    pending = [(value, copy)]
    while pending:
        source, target = pending.pop()
        for key, item in source.items() if isinstance(source, dict) else enumerate(source):
            if isinstance(item, str):
                item = clean_text(item)
            elif isinstance(item, (dict, list)):
                child = {} if isinstance(item, dict) else []
                pending.append((item, child))
                item = child
            if isinstance(target, dict):
                target[clean_text(key)] = item
            else:
                target.append(item)
    return copy


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
