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


# What a display name may not contain: C0/C1 controls (NUL, tab, CR, LF, ESC…), the line and
# paragraph separators, the bidirectional embeddings/overrides/isolates and marks (they reorder
# the text around them: "Trojan Source"), and lone surrogates. Names end up in e-mail headers,
# audit rows and page titles, where each of these breaks or disguises something. Joiners such as
# U+200D stay allowed: emoji sequences and several scripts need them.
_NAME_FORBIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def required_name(name: str, field: str = "name", *, max_length: int = 100) -> str:
    """A trimmed, non-empty, single-line display name of at most ``max_length`` characters.

    The one validator of every user-entered name (organizations, projects, API keys, review
    queues, taxonomy categories, detection rules, problem titles): each refusal is a
    ``ValidationFailed`` (400 ``invalid``) on ``field``.
    """
    if not isinstance(name, str | None):
        raise ValidationFailed("A name is text.", field=field)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("A name is required.", field=field)
    if len(name) > max_length:
        raise ValidationFailed(f"Names are at most {max_length} characters.", field=field)
    if _NAME_FORBIDDEN.search(name):
        raise ValidationFailed(
            "Names cannot contain control characters (line breaks, tabs) or text-direction overrides.", field=field
        )
    return name


def single_line(text: str) -> str:
    """``text`` safe for a one-line context such as an e-mail subject: every character a name may
    not contain becomes a space and whitespace runs collapse (rows stored before names were
    checked still make a valid header)."""
    return " ".join(_NAME_FORBIDDEN.sub(" ", text).split())


def sha256_hex(text: str) -> str:
    """Hash of a high-entropy token (invitation tokens, API key secrets); only this is stored."""
    return hashlib.sha256(text.encode()).hexdigest()
