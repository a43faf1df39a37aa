"""Reading request bodies: size limits, gzip and deflate, strict JSON (fast path with msgspec).

``decode_json`` is the one JSON door: ingestion, OTLP JSON, the management API (through
``apps.core.parsers.StrictJSONParser``) and the feedback widget all decode through it, so a hostile
body gets the same 400 and stable code everywhere (DESIGN.md "Bad input").
"""

from __future__ import annotations

import json
import math
import zlib

import msgspec
from django.conf import settings
from django.core.exceptions import RequestDataTooBig

from apps.core.errors import ServiceError
from apps.core.text import InvalidText, clean_json


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ServiceError):
    status = 415
    code = "unsupported_media_type"


def max_body_bytes() -> int:
    return settings.INGEST_MAX_BODY_BYTES


def read_body(request) -> bytes:
    """The request body, gunzipped if ``Content-Encoding: gzip``, never above the size limit."""
    limit = max_body_bytes()
    try:
        raw = request.body
    except RequestDataTooBig:
        raise PayloadTooLarge(f"The body is larger than {limit} bytes.") from None
    if len(raw) > limit:
        raise PayloadTooLarge(f"The body is larger than {limit} bytes.")
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "deflate"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported; use gzip, deflate or none.")
    # gzip framing, or zlib framing for deflate (32 + MAX_WBITS also accepts a gzip header).
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else 32 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise ServiceError(f"The {encoding} body is corrupt: {exc}", code="invalid_gzip") from None
    if len(body) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"The decompressed body is larger than {limit} bytes.")
    # A stream cut short inflates without error to a prefix of the data: refuse it rather than
    # store part of what was sent. Bytes after the end (a second gzip member) would be dropped.
    if not inflater.eof:
        raise ServiceError(f"The {encoding} body is truncated: the compressed stream does not end.", code="invalid_gzip")
    if inflater.unused_data:
        raise ServiceError(
            f"The {encoding} body has {len(inflater.unused_data)} bytes after the end of the compressed stream.",
            code="invalid_gzip",
        )
    return body


def decode_json(body: bytes):
    """Decoded JSON, or a 400 ``ServiceError`` with one of these codes:

    - ``malformed_json``: empty, or not JSON (RFC 8259);
    - ``invalid_encoding``: not UTF-8;
    - ``too_deep``: more than ``JSON_MAX_DEPTH`` nested objects and arrays (the whole document
      counts: ``{}`` is depth 1), so nothing downstream can recurse out of the stack;
    - ``invalid_number``: ``NaN``, ``Infinity`` or a number beyond a 64-bit float, which JSON
      cannot carry back out (they would be stored as null);
    - ``invalid_unicode``: a lone surrogate escape. NUL characters are stripped (PostgreSQL).
    """
    if not body:
        raise ServiceError("The body is empty; send a JSON object.", code="malformed_json")
    limit = settings.JSON_MAX_DEPTH
    try:
        data = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        # msgspec's messages are unhelpful and it refuses lone surrogates outright: let the
        # standard library say what is wrong (or decode the surrogate for clean_json to refuse).
        data = _decode_explained(body)
    except RecursionError:
        raise _too_deep(limit) from None
    # A document cannot nest deeper than it has brackets: most bodies skip the walk.
    if body.count(b"{") + body.count(b"[") > limit and _nests_deeper_than(data, limit):
        raise _too_deep(limit)
    try:
        return clean_json(data) if b"\\u0000" in body or b"\\ud" in body.lower() else data
    except InvalidText as exc:
        raise ServiceError(str(exc), code="invalid_unicode") from None


def _decode_explained(body: bytes):
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ServiceError(
            f"The body is not valid UTF-8: byte {body[exc.start]:#04x} at offset {exc.start} ({exc.reason}).",
            code="invalid_encoding",
        ) from None
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise _too_deep(settings.JSON_MAX_DEPTH) from None
    except ValueError as exc:
        raise ServiceError(f"Malformed JSON: {exc}", code="malformed_json") from None


def _refuse_constant(name: str):
    raise ServiceError(f"{name} is not a JSON number; send a number, null or a string.", code="invalid_number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ServiceError(f"The number {text[:40]} is beyond the range of a 64-bit float.", code="invalid_number")
    return number


def _too_deep(limit: int) -> ServiceError:
    return ServiceError(f"The JSON nests objects and arrays deeper than {limit} levels.", code="too_deep")


def _nests_deeper_than(data, limit: int) -> bool:
    """Whether decoded JSON has more than ``limit`` levels of containers (walked without recursion)."""
    pending = [(data, 1)] if isinstance(data, (dict, list)) else []
    while pending:
        value, depth = pending.pop()
        if depth > limit:
            return True
        for item in value.values() if isinstance(value, dict) else value:
            if isinstance(item, (dict, list)):
                pending.append((item, depth + 1))
    return False


def read_json(request):
    content_type = request.headers.get("Content-Type", "application/json").split(";")[0].strip().lower()
    if content_type not in ("application/json", ""):
        raise UnsupportedMediaType(f"Content-Type {content_type!r} is not supported; send application/json.")
    return decode_json(read_body(request))
