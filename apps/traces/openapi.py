"""OpenAPI documentation of the ingestion endpoints, generated from the msgspec structs that
validate them (one source of truth for the hot path and its schema)."""

from __future__ import annotations

import msgspec
from drf_spectacular.utils import OpenApiExample

from apps.traces import schemas

_STRUCTS = [
    schemas.TurnIn, schemas.StepIn, schemas.SignalIn, schemas.FeedbackIn, schemas.BatchIn,
    schemas.TurnCreatedOut, schemas.BatchOut, schemas.ItemResult,
]
_, COMPONENTS = msgspec.json.schema_components(_STRUCTS, ref_template="#/components/schemas/{name}")


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
