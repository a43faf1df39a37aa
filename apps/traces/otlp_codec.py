"""OTLP/HTTP trace payloads: decode ``ExportTraceServiceRequest`` bodies and encode the response.

Both encodings decode to the same plain representation (``SpanData``), so the mapping to turns
and steps (apps/traces/services/otlp/) cannot tell them apart:

- protobuf (``application/x-protobuf``) with the ``opentelemetry-proto`` classes (upb, in C);
- OTLP JSON (``application/json``) with msgspec structs. OTLP JSON is proto3 JSON with camelCase
  names except that trace and span ids are hex, not base64, and enums may be integers
  (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding); 64-bit integers arrive as
  strings or numbers. Unknown fields are ignored, as the specification requires of receivers.

Strings lose NUL characters (PostgreSQL refuses them). A span whose ids are unusable is rejected
on its own (OTLP partial success); a body that cannot be decoded at all is a 400.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

import msgspec
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from apps.core.body import UnsupportedMediaType
from apps.core.errors import ServiceError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_MEDIA_TYPES = {PROTOBUF: PROTOBUF, "application/protobuf": PROTOBUF, JSON: JSON}
STATUS_ERROR = 2
_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2, "UNSET": 0, "OK": 1, "ERROR": 2}
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


class InvalidOtlp(ServiceError):
    status = 400
    code = "invalid_otlp"


class SpanData:
    """One span, encoding-independent: ids in lowercase hex, attributes as JSON values."""

    __slots__ = ("trace_id", "span_id", "parent_id", "name", "start_ns", "end_ns", "status_code",
                 "status_message", "attributes", "events", "resource")

    def __init__(self, trace_id, span_id, parent_id, name, start_ns, end_ns, status_code, status_message,
                 attributes, events, resource):
        self.trace_id: str = trace_id
        self.span_id: str = span_id
        self.parent_id: str = parent_id
        self.name: str = name
        self.start_ns: int = start_ns
        self.end_ns: int = end_ns
        self.status_code: int = status_code
        self.status_message: str = status_message
        self.attributes: dict = attributes
        self.events: list[tuple[str, dict]] = events
        self.resource: dict = resource

    def as_tuple(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)


@dataclass
class DecodedSpans:
    spans: list[SpanData] = field(default_factory=list)
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    def reject(self, message: str) -> None:
        self.rejected += 1
        if message not in self.errors:
            self.errors.append(message)


def media_type(request) -> str:
    """The request's OTLP encoding, or 415."""
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    try:
        return _MEDIA_TYPES[content_type]
    except KeyError:
        raise UnsupportedMediaType(
            f"Content-Type {content_type!r} is not supported; send application/x-protobuf or application/json."
        ) from None


def decode(body: bytes, media: str) -> DecodedSpans:
    return _decode_protobuf(body) if media == PROTOBUF else _decode_json(body)


def encode_response(media: str, *, rejected: int, error_message: str) -> bytes:
    """``ExportTraceServiceResponse``; ``partialSuccess`` only when something needs saying."""
    if media == PROTOBUF:
        response = ExportTraceServiceResponse()
        if rejected or error_message:
            response.partial_success.rejected_spans = rejected
            response.partial_success.error_message = error_message
        return response.SerializeToString()
    if not (rejected or error_message):
        return b"{}"
    return msgspec.json.encode({"partialSuccess": {"rejectedSpans": rejected, "errorMessage": error_message}})


def _clean(text: str) -> str:
    return text.replace("\x00", "") if "\x00" in text else text


# --- protobuf ---------------------------------------------------------------------------------


def _pb_value(value):
    which = value.WhichOneof("value")
    if which == "string_value":
        text = value.string_value
        return text.replace("\x00", "") if "\x00" in text else text
    if which == "int_value":
        return value.int_value
    if which == "bool_value":
        return value.bool_value
    if which == "double_value":
        return value.double_value
    if which == "array_value":
        return [_pb_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return {_clean(item.key): _pb_value(item.value) for item in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def _pb_attributes(attributes) -> dict:
    result = {}
    for item in attributes:
        key = item.key
        result[key.replace("\x00", "") if "\x00" in key else key] = _pb_value(item.value)
    return result


def _decode_protobuf(body: bytes) -> DecodedSpans:
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except (DecodeError, ValueError) as exc:
        raise InvalidOtlp(f"The body is not an OTLP ExportTraceServiceRequest: {exc}") from None
    decoded = DecodedSpans()
    append = decoded.spans.append
    for resource_spans in request.resource_spans:
        resource = _pb_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                trace_id, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
                if len(trace_id) != 16 or len(span_id) != 8 or len(parent) not in (0, 8):
                    decoded.reject("A span has a trace id that is not 16 bytes or a span id that is not 8 bytes.")
                    continue
                trace_hex, span_hex = trace_id.hex(), span_id.hex()
                if trace_hex == _ZERO_TRACE or span_hex == _ZERO_SPAN:
                    decoded.reject("A span has an all-zero trace or span id.")
                    continue
                parent_hex = parent.hex()
                status = span.status
                append(SpanData(
                    trace_hex, span_hex, "" if parent_hex == _ZERO_SPAN else parent_hex, _clean(span.name),
                    span.start_time_unix_nano, span.end_time_unix_nano, status.code, _clean(status.message),
                    _pb_attributes(span.attributes),
                    [(_clean(event.name), _pb_attributes(event.attributes)) for event in span.events],
                    resource,
                ))
    return decoded


# --- OTLP JSON --------------------------------------------------------------------------------


class _AnyValue(msgspec.Struct):
    stringValue: str | None = None
    boolValue: bool | None = None
    intValue: int | str | None = None
    doubleValue: float | str | None = None
    arrayValue: _ArrayValue | None = None
    kvlistValue: _KeyValueList | None = None
    bytesValue: str | None = None


class _KeyValue(msgspec.Struct):
    key: str | None = None
    value: _AnyValue | None = None


class _ArrayValue(msgspec.Struct):
    values: list[_AnyValue] | None = None


class _KeyValueList(msgspec.Struct):
    values: list[_KeyValue] | None = None


class _Status(msgspec.Struct):
    code: int | str | None = None
    message: str | None = None


class _Event(msgspec.Struct):
    name: str | None = None
    attributes: list[_KeyValue] | None = None


class _Span(msgspec.Struct):
    traceId: str | None = None
    spanId: str | None = None
    parentSpanId: str | None = None
    name: str | None = None
    startTimeUnixNano: int | str | None = None
    endTimeUnixNano: int | str | None = None
    attributes: list[_KeyValue] | None = None
    events: list[_Event] | None = None
    status: _Status | None = None


class _ScopeSpans(msgspec.Struct):
    spans: list[_Span] | None = None


class _Resource(msgspec.Struct):
    attributes: list[_KeyValue] | None = None


class _ResourceSpans(msgspec.Struct):
    resource: _Resource | None = None
    scopeSpans: list[_ScopeSpans] | None = None


class _ExportRequest(msgspec.Struct):
    resourceSpans: list[_ResourceSpans] | None = None


_JSON_DECODER = msgspec.json.Decoder(_ExportRequest)


def _json_int(value) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except ValueError:
        raise InvalidOtlp(f"{value!r} is not an integer.") from None


def _json_value(value: _AnyValue | None):
    if value is None:
        return None
    if value.stringValue is not None:
        return _clean(value.stringValue)
    if value.boolValue is not None:
        return value.boolValue
    if value.intValue is not None:
        return _json_int(value.intValue)
    if value.doubleValue is not None:
        try:
            return float(value.doubleValue)
        except ValueError:
            raise InvalidOtlp(f"{value.doubleValue!r} is not a number.") from None
    if value.arrayValue is not None:
        return [_json_value(item) for item in value.arrayValue.values or ()]
    if value.kvlistValue is not None:
        return _json_attributes(value.kvlistValue.values)
    if value.bytesValue is not None:
        return base64.b64encode(_json_bytes(value.bytesValue)).decode()
    return None


def _json_bytes(text: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if ("-" in text or "_" in text) else None)
    except (binascii.Error, ValueError):
        raise InvalidOtlp("bytesValue is not base64.") from None


def _json_attributes(attributes: list[_KeyValue] | None) -> dict:
    if not attributes:
        return {}
    return {_clean(item.key or ""): _json_value(item.value) for item in attributes}


def _json_id(text: str | None, size: int) -> str | None:
    """A hex id (the OTLP JSON form); base64 is accepted from naive proto3 JSON encoders."""
    if not text:
        return ""
    if len(text) == size * 2:
        try:
            return bytes.fromhex(text).hex()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == size else None


def _json_status_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return _STATUS_NAMES.get(code.upper(), 0)


def _decode_json(body: bytes) -> DecodedSpans:
    try:
        request = _JSON_DECODER.decode(body)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise InvalidOtlp(f"The body is not an OTLP JSON ExportTraceServiceRequest: {exc}") from None
    decoded = DecodedSpans()
    append = decoded.spans.append
    for resource_spans in request.resourceSpans or ():
        resource = _json_attributes(resource_spans.resource.attributes if resource_spans.resource else None)
        for scope_spans in resource_spans.scopeSpans or ():
            for span in scope_spans.spans or ():
                trace_hex, span_hex = _json_id(span.traceId, 16), _json_id(span.spanId, 8)
                parent_hex = _json_id(span.parentSpanId, 8)
                if not trace_hex or not span_hex or parent_hex is None:
                    decoded.reject("A span has a missing or malformed traceId, spanId or parentSpanId (hex expected).")
                    continue
                if trace_hex == _ZERO_TRACE or span_hex == _ZERO_SPAN:
                    decoded.reject("A span has an all-zero trace or span id.")
                    continue
                status = span.status or _Status()
                append(SpanData(
                    trace_hex, span_hex, "" if parent_hex == _ZERO_SPAN else parent_hex, _clean(span.name or ""),
                    _json_int(span.startTimeUnixNano), _json_int(span.endTimeUnixNano),
                    _json_status_code(status.code), _clean(status.message or ""),
                    _json_attributes(span.attributes),
                    [(_clean(event.name or ""), _json_attributes(event.attributes)) for event in span.events or ()],
                    resource,
                ))
    return decoded
