"""JSON encoding that never fails on the caller's values.

Values are encoded on the caller's thread, when they are logged, so a dict the app mutates
afterwards is sent as it was. Anything ``json`` cannot encode natively is converted:
datetimes/dates/times to ISO 8601, UUIDs and other objects to ``str()``, sets to lists, bytes to
text. NaN and infinities (invalid JSON, which the server would reject with the whole batch) and
circular references are replaced on a slower fallback path.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return iso_datetime(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_default)
_encode = _encoder.encode


def iso_datetime(value: dt.datetime) -> str:
    """ISO 8601 with an offset; a naive datetime is taken as local time (Python's convention)."""
    if value.tzinfo is None:
        value = value.astimezone()
    return value.isoformat()


def dumps(value: Any) -> str:
    """Compact JSON text for ``value``; never raises for odd values (see the module docstring)."""
    try:
        return _encode(value)
    except Exception:  # ValueError (NaN, cycle), TypeError (a key), a raising __str__
        return _encode(_sanitize(value, set(), 0))


def _sanitize(value: Any, seen: set[int], depth: int) -> Any:
    """A copy of ``value`` made of plain JSON types: non-finite floats become None, cycles a marker."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if depth > 100:
        return "<too deep>"
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        marker = id(value)
        if marker in seen:
            return "<circular>"
        seen.add(marker)
        try:
            if isinstance(value, dict):
                out: dict[str, Any] = {}
                for key, item in value.items():
                    out[_key(key)] = _sanitize(item, seen, depth + 1)
                return out
            return [_sanitize(item, seen, depth + 1) for item in value]
        finally:
            seen.discard(marker)
    try:
        converted = _default(value)
    except Exception:  # a broken __str__ must not break logging
        return "<unserializable>"
    return converted if isinstance(converted, str) else _sanitize(converted, seen, depth + 1)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, float) and not math.isfinite(key):
        return str(key)
    if key is None or isinstance(key, (int, float, bool)):
        return json.dumps(key)
    try:
        return str(key)
    except Exception:
        return "<key>"


def optional_str(value: Any | None) -> str | None:
    return None if value is None else str(value)
