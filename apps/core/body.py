"""Reading ingestion bodies: size limits, gzip, strict JSON (fast path with msgspec)."""

from __future__ import annotations

import json
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
    return body


def decode_json(body: bytes):
    """Decode JSON fast; NUL characters are stripped and lone surrogates rejected."""
    if not body:
        raise ServiceError("The body is empty; send a JSON object.", code="malformed_json")
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        # msgspec's message for a lone surrogate is unhelpful: let json explain what is wrong.
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ServiceError(f"Malformed JSON: {exc}", code="malformed_json") from None
    try:
        return clean_json(data) if b"\\u0000" in body or b"\\ud" in body.lower() else data
    except InvalidText as exc:
        raise ServiceError(str(exc), code="invalid_unicode") from None


def read_json(request):
    content_type = request.headers.get("Content-Type", "application/json").split(";")[0].strip().lower()
    if content_type not in ("application/json", ""):
        raise UnsupportedMediaType(f"Content-Type {content_type!r} is not supported; send application/json.")
    return decode_json(read_body(request))
