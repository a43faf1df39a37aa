"""Building and encoding the items of a batch: ``{"type", "id", "body"}``.

The caller's thread only builds the body (cheap: ids, shallow copies); the sender thread encodes
it (most of the cost). See ``agentloop.client`` for the contract.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import Any, Union

from agentloop.serialize import dumps, iso_datetime

_urandom = os.urandom
_utc = dt.timezone.utc

Timestamp = Union[dt.datetime, str, float]


def new_id() -> str:
    """A random (version 4) UUID as text, like ``str(uuid.uuid4())`` at a quarter of the cost."""
    h = _urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def snapshot(value: Any) -> Any:
    """A shallow copy of a dict or list the caller may keep mutating (encoding comes later)."""
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    return value


def step(value: Any) -> Any:
    """A step dict without None values (the server wants strings, not nulls) and with an id."""
    if not isinstance(value, Mapping):
        return value
    cleaned = {key: item for key, item in value.items() if item is not None}
    cleaned["id"] = str(cleaned["id"]) if "id" in cleaned else new_id()
    if "parent_id" in cleaned:
        cleaned["parent_id"] = str(cleaned["parent_id"])
    return cleaned


def iso_timestamp(value: Timestamp) -> str:
    """ISO 8601 for a datetime (naive = local time), unix seconds, or text (kept as given)."""
    if isinstance(value, dt.datetime):
        return iso_datetime(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, _utc).isoformat()
    return str(value)


def encode(kind: str, item_id: str, body: dict[str, Any]) -> bytes:
    """The item as UTF-8 JSON (on the sender thread). Never raises."""
    timestamp = body.get("timestamp")
    if timestamp is not None and not isinstance(timestamp, str):
        try:
            body["timestamp"] = iso_timestamp(timestamp)
        except (ValueError, OverflowError, OSError):  # e.g. a NaN or out-of-range unix time
            body["timestamp"] = str(timestamp)
    text = dumps({"type": kind, "id": item_id, "body": body})
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: the server would refuse the whole request
        return text.encode("utf-8", "replace")
