"""OpenAPI documentation of the ingestion endpoints, generated from the msgspec structs that
validate them (one source of truth for the hot path and its schema)."""

from __future__ import annotations

import msgspec
import msgspec.inspect
from drf_spectacular.utils import OpenApiExample

from apps.traces import schemas

_STRUCTS = [
    schemas.TurnIn, schemas.StepIn, schemas.SignalIn, schemas.FeedbackIn, schemas.BatchIn,
    schemas.TurnCreatedOut, schemas.BatchOut, schemas.ItemResult,
]
_, COMPONENTS = msgspec.json.schema_components(_STRUCTS, ref_template="#/components/schemas/{name}")


# An RFC 3339 time whose UTC offset PostgreSQL can store (schemas.MAX_UTC_OFFSET): Z or ±00:00…±15:59.
_STORABLE_OFFSET = r"(?:[Zz]|[+-](?:0[0-9]|1[0-5]):[0-5][0-9])$"


def _mark_datetimes() -> None:
    """msgspec describes a datetime field as a bare string; the structs accept RFC 3339 with an
    offset within ±15:59 only, so the schema says so (a client generating from it sends what is
    accepted)."""
    for info in msgspec.inspect.multi_type_info([getattr(schemas, name) for name in COMPONENTS]):
        properties = COMPONENTS[info.cls.__name__].get("properties", {})
        for field in info.fields:
            options = field.type.types if isinstance(field.type, msgspec.inspect.UnionType) else (field.type,)
            if any(isinstance(option, msgspec.inspect.DateTimeType) for option in options):
                node = properties[field.encode_name]
                for option in node.get("anyOf", [node]):
                    if option.get("type") == "string":
                        option.update(format="date-time", pattern=_STORABLE_OFFSET)


_mark_datetimes()


def component(struct) -> dict:
    """An inline copy of a struct's JSON schema with its nested components resolved."""
    return _inline(COMPONENTS[struct.__name__])


def _inline(node):
    """Resolve refs and translate JSON Schema ``null`` into OpenAPI 3.0's ``nullable``."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(COMPONENTS[node["$ref"].rsplit("/", 1)[-1]])
        options = node.get("anyOf")
        if options and {"type": "null"} in options:
            rest = [option for option in options if option != {"type": "null"}]
            merged = dict(rest[0]) if len(rest) == 1 else {"anyOf": rest}
            merged.update({k: v for k, v in node.items() if k != "anyOf"}, nullable=True)
            return _inline(merged)
        if node.get("required") == []:  # OpenAPI 3.0 wants a non-empty list or none
            node = {k: v for k, v in node.items() if k != "required"}
        if "propertyNames" in node:  # not in OpenAPI 3.0: keep the key rule in the description
            node = dict(node)
            pattern = node.pop("propertyNames").get("pattern")
            node["description"] = f"{node.get('description', '')} Keys match {pattern}.".strip()
        return {key: _inline(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item) for item in node]
    return node


def batch_request_schema() -> dict:
    item_types = {
        "turn": component(schemas.TurnIn),
        "step": component(schemas.StepIn),
        "signal": component(schemas.SignalIn),
        "feedback": component(schemas.FeedbackIn),
    }
    return {
        "type": "object",
        "required": ["batch"],
        "additionalProperties": False,
        "properties": {
            "batch": {
                "type": "array",
                "minItems": 1,
                "maxItems": schemas.MAX_BATCH,
                "items": {
                    "type": "object",
                    "required": ["type", "body"],
                    "properties": {
                        "type": {"type": "string", "enum": list(item_types)},
                        "id": {"type": "string", "description": "The item's id (turn id, span id, feedback id)"},
                        "body": {"oneOf": list(item_types.values())},
                    },
                },
            }
        },
    }


TURN_EXAMPLE = OpenApiExample(
    "A support turn with a thumbs-down",
    value={
        "id": "7d3e9f4a-1b2c-4d5e-8f90-a1b2c3d4e5f6",
        "question": "How do I reset my password?",
        "agent_response": "I'm not sure, please contact support.",
        "user_id": "user-42",
        "session_id": "sess-9",
        "signals": {"thumbs_down": True},
        "prompt_version": "support-v12",
        "model": "gpt-4o-mini",
        "retrieved": [{"id": "kb-17", "score": 0.41, "text": "Password resets…"}],
        "tool_calls": [{"name": "lookup_user", "arguments": {"id": "user-42"}, "result": {"plan": "pro"}}],
        "metadata": {"plan": "enterprise"},
    },
    request_only=True,
)
