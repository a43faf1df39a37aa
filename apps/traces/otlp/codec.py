"""OTLP/HTTP trace payloads: decode ``ExportTraceServiceRequest`` bodies and encode the response.

Both encodings decode to the same plain representation (``SpanData``), so the mapping to turns
and steps (mapping.py and assembly.py beside it) cannot tell them apart:

- protobuf (``application/x-protobuf``) with the ``opentelemetry-proto`` classes (upb, in C);
- OTLP JSON (``application/json``) with msgspec structs. OTLP JSON is proto3 JSON with camelCase
  names except that trace and span ids are hex, not base64, and enums may be integers
  (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding); 64-bit integers arrive as
  strings or numbers. Unknown fields are ignored, as the specification requires of receivers.
  The body goes through the JSON door (``apps.core.body.decode_json``: depth limit, UTF-8, finite
  numbers). ``null`` is refused for every field, lists and objects included: omit a field to
  leave it unset (``{"resourceSpans": null}`` is a 400, not an empty export).

Strings lose NUL characters (PostgreSQL refuses them). Integers must fit their protobuf types
(times uint64, ``intValue`` int64). A double that is NaN or infinite is kept as its proto3 JSON
name (``"NaN"``, ``"Infinity"``, ``"-Infinity"``): stored JSON cannot hold it, and null would lose
it. A span whose ids are unusable is rejected on its own (OTLP partial success); a body that
cannot be decoded at all is a 400.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass, field

import msgspec
from msgspec import UNSET, UnsetType
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from apps.core.body import UnsupportedMediaType, decode_json
from apps.core.errors import ServiceError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_MEDIA_TYPES = {PROTOBUF: PROTOBUF, "application/protobuf": PROTOBUF, JSON: JSON}
STATUS_ERROR = 2
_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2, "UNSET": 0, "OK": 1, "ERROR": 2}
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_UINT64 = (0, 2**64 - 1)
_INT64 = (-(2**63), 2**63 - 1)


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


def _double(number: float) -> float | str:
    """A finite double as is; NaN and the infinities as their proto3 JSON names."""
    if math.isfinite(number):
        return number
    return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")


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
        return _double(value.double_value)
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
    """At most one field is set (a proto3 oneof); none set is an empty value."""

    stringValue: str | UnsetType = UNSET
    boolValue: bool | UnsetType = UNSET
    intValue: int | str | UnsetType = UNSET
    doubleValue: float | str | UnsetType = UNSET
    arrayValue: _ArrayValue | UnsetType = UNSET
    kvlistValue: _KeyValueList | UnsetType = UNSET
    bytesValue: str | UnsetType = UNSET


class _KeyValue(msgspec.Struct):
    key: str = ""
    value: _AnyValue | UnsetType = UNSET


class _ArrayValue(msgspec.Struct):
    values: list[_AnyValue] = []


class _KeyValueList(msgspec.Struct):
    values: list[_KeyValue] = []


class _Status(msgspec.Struct, frozen=True):
    code: int | str = 0
    message: str = ""


class _Event(msgspec.Struct):
    name: str = ""
    attributes: list[_KeyValue] = []


class _Span(msgspec.Struct):
    traceId: str = ""
    spanId: str = ""
    parentSpanId: str = ""
    name: str = ""
    startTimeUnixNano: int | str = 0
    endTimeUnixNano: int | str = 0
    attributes: list[_KeyValue] = []
    events: list[_Event] = []
    status: _Status = _Status()


class _ScopeSpans(msgspec.Struct):
    spans: list[_Span] = []


class _Resource(msgspec.Struct, frozen=True):
    attributes: list[_KeyValue] = []


class _ResourceSpans(msgspec.Struct):
    resource: _Resource = _Resource()
    scopeSpans: list[_ScopeSpans] = []


class _ExportRequest(msgspec.Struct):
    resourceSpans: list[_ResourceSpans] = []


def _json_int(value: int | str, name: str, bounds: tuple[int, int]) -> int:
    """An integer of a protobuf type (``bounds``), sent as a JSON number or a decimal string."""
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise InvalidOtlp(f"{name} {value[:40]!r} is not an integer.") from None
    if not bounds[0] <= value <= bounds[1]:
        raise InvalidOtlp(f"{name} {value} is out of range ({bounds[0]} to {bounds[1]}).")
    return value


def _json_value(value: _AnyValue | UnsetType):
    if value is UNSET:
        return None
    if value.stringValue is not UNSET:
        return _clean(value.stringValue)
    if value.boolValue is not UNSET:
        return value.boolValue
    if value.intValue is not UNSET:
        return _json_int(value.intValue, "intValue", _INT64)
    if value.doubleValue is not UNSET:
        try:
            return _double(float(value.doubleValue))
        except ValueError:
            raise InvalidOtlp(f"doubleValue {value.doubleValue[:40]!r} is not a number.") from None
    if value.arrayValue is not UNSET:
        return [_json_value(item) for item in value.arrayValue.values]
    if value.kvlistValue is not UNSET:
        return _json_attributes(value.kvlistValue.values)
    if value.bytesValue is not UNSET:
        return base64.b64encode(_json_bytes(value.bytesValue)).decode()
    return None


def _json_bytes(text: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if ("-" in text or "_" in text) else None)
    except (binascii.Error, ValueError):
        raise InvalidOtlp("bytesValue is not base64.") from None


def _json_attributes(attributes: list[_KeyValue]) -> dict:
    return {_clean(item.key): _json_value(item.value) for item in attributes}


def _json_id(text: str, size: int) -> str | None:
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


def _json_status_code(code: int | str) -> int:
    if isinstance(code, int):
        return code
    return _STATUS_NAMES.get(code.upper(), 0)


def _decode_json(body: bytes) -> DecodedSpans:
    try:
        request = msgspec.convert(decode_json(body), _ExportRequest)
    except ServiceError as exc:
        if exc.code != "malformed_json":
            raise  # too deep, not UTF-8, NaN, a lone surrogate: the JSON door's own codes
        raise InvalidOtlp(f"The body is not an OTLP JSON ExportTraceServiceRequest: {exc.message}") from None
    except msgspec.ValidationError as exc:
        raise InvalidOtlp(f"The body is not an OTLP JSON ExportTraceServiceRequest: {exc}") from None
    decoded = DecodedSpans()
    append = decoded.spans.append
    for resource_spans in request.resourceSpans:
        resource = _json_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scopeSpans:
            for span in scope_spans.spans:
                trace_hex, span_hex = _json_id(span.traceId, 16), _json_id(span.spanId, 8)
                parent_hex = _json_id(span.parentSpanId, 8)
                if not trace_hex or not span_hex or parent_hex is None:
                    decoded.reject("A span has a missing or malformed traceId, spanId or parentSpanId (hex expected).")
                    continue
                if trace_hex == _ZERO_TRACE or span_hex == _ZERO_SPAN:
                    decoded.reject("A span has an all-zero trace or span id.")
                    continue
                status = span.status
                append(SpanData(
                    trace_hex, span_hex, "" if parent_hex == _ZERO_SPAN else parent_hex, _clean(span.name),
                    _json_int(span.startTimeUnixNano, "startTimeUnixNano", _UINT64),
                    _json_int(span.endTimeUnixNano, "endTimeUnixNano", _UINT64),
                    _json_status_code(status.code), _clean(status.message),
                    _json_attributes(span.attributes),
                    [(_clean(event.name), _json_attributes(event.attributes)) for event in span.events],
                    resource,
                ))
    return decoded
