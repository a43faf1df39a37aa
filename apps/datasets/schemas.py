"""OpenAPI shapes of the dataset routes (plain JSON Schema; the views build the bodies)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

_NULLABLE_INT = {"type": "integer", "nullable": True}
_NULLABLE_STR = {"type": "string", "nullable": True}

DATASET_IN = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "description": {"type": "string", "maxLength": 5000},
    },
    "additionalProperties": False,
}
DATASET = {
    "type": "object",
    "required": ["id", "name", "description", "archived", "latest_version", "cases_count", "created_at", "updated_at"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "archived": {"type": "boolean"},
        "latest_version": _NULLABLE_INT,
        "cases_count": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}
DATASET_LIST = {"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": DATASET}}}
VERSION = {
    "type": "object",
    "required": ["number", "message", "author", "created_at", "cases_count", "added", "removed", "changed"],
    "properties": {
        "number": {"type": "integer"}, "message": {"type": "string"}, "author": _NULLABLE_STR,
        "created_at": {"type": "string", "format": "date-time"}, "cases_count": {"type": "integer"},
        "added": {"type": "integer"}, "removed": {"type": "integer"}, "changed": {"type": "integer"},
    },
}
DATASET_DETAIL = {
    "type": "object",
    "required": [*DATASET["required"], "versions"],
    "properties": {**DATASET["properties"], "versions": {"type": "array", "items": VERSION}},
}
CASE_FIELDS_SCHEMA = {
    "input": {"type": "string"},
    "history": {"type": "array", "items": {}},
    "context": {"oneOf": [{"type": "object"}, {"type": "array", "items": {}}]},
    "expected_output": {"type": "string"},
    "failure_category": {"type": "string", "maxLength": 64},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 64}, "maxItems": 50},
    "split": {"type": "string", "maxLength": 64},
    "metadata": {"type": "object"},
}
LINEAGE = {
    "type": "object",
    "properties": {
        "source": {"type": "string", "enum": ["turn", "hand", "import", "api"]},
        "project": {"type": "string", "format": "uuid"},
        "turn_id": _NULLABLE_STR, "decision_id": _NULLABLE_INT, "reviewer": _NULLABLE_STR,
        "problem_id": _NULLABLE_INT, "problem_title": _NULLABLE_STR,
        "added_at": {"type": "string", "format": "date-time"},
        "turn": {"type": "string", "enum": ["present", "deleted"], "description": "Whether the turn is still stored"},
    },
}
CASE = {
    "type": "object",
    "required": ["id", *CASE_FIELDS_SCHEMA, "lineage"],
    "properties": {"id": {"type": "string", "format": "uuid"}, **CASE_FIELDS_SCHEMA, "lineage": LINEAGE},
}
CASE_IN = {
    "type": "object",
    "description": "A hand-written case (`input` required) or a turn `{\"turn_id\", \"split\"?, \"tags\"?}`.",
    "properties": {**CASE_FIELDS_SCHEMA, "turn_id": {"type": "string", "format": "uuid"}},
}
CASES_IN = {
    "type": "object",
    "required": ["cases"],
    "properties": {
        "cases": {"type": "array", "items": CASE_IN, "minItems": 1, "maxItems": 1000},
        "message": {"type": "string", "maxLength": 500},
    },
    "additionalProperties": False,
}
CASE_RESULT = {
    "type": "object",
    "required": ["index", "status"],
    "properties": {
        "index": {"type": "integer"}, "status": {"type": "integer", "enum": [200, 201, 400, 404]},
        "case_id": {"type": "string", "format": "uuid"}, "code": {"type": "string"},
        "message": {"type": "string"}, "field": {"type": "string"},
    },
}
CASES_ADDED = {
    "type": "object",
    "required": ["version", "added", "rejected", "results"],
    "properties": {
        "version": _NULLABLE_INT, "added": {"type": "integer"}, "rejected": {"type": "integer"},
        "results": {"type": "array", "items": CASE_RESULT},
    },
}
CASE_PAGE = {
    "type": "object",
    "required": ["version", "results", "cursor", "next"],
    "properties": {
        "version": {"type": "integer"}, "results": {"type": "array", "items": CASE}, "cursor": _NULLABLE_STR,
        "next": _NULLABLE_STR,
    },
}
DIFF = {
    "type": "object",
    "required": ["from", "to", "counts", "added", "removed", "changed", "truncated"],
    "properties": {
        "from": {"type": "integer"}, "to": {"type": "integer"},
        "counts": {"type": "object", "properties": {"added": {"type": "integer"}, "removed": {"type": "integer"}, "changed": {"type": "integer"}}},
        "added": {"type": "array", "items": CASE}, "removed": {"type": "array", "items": CASE},
        "changed": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "input": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": {"type": "object", "properties": {"from": {}, "to": {}}}},
        }}},
        "truncated": {"type": "boolean"},
    },
}


def _text_parameter(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, {"type": "string", "maxLength": 200}, description=description)


def case_page_parameters(*, default_limit: int) -> list:
    return [
        OpenApiParameter("cursor", str, description="The `cursor` of the previous page (opaque)"),
        OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 500}, description=f"Cases a page (default {default_limit})"),
        _text_parameter("split", "Only this split"), _text_parameter("tag", "Only cases with this tag"),
        _text_parameter("category", "Only this failure category"), _text_parameter("q", "Text in the input or expected output"),
    ]


def diff_parameters() -> list:
    version = {"type": "integer", "minimum": 1, "maximum": 999999999}
    return [
        OpenApiParameter("from", version, description="Default: the version before `to`"),
        OpenApiParameter("to", version, description="Default: the latest version"),
        OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 500}, description="Cases listed of each kind (counts are whole)"),
    ]


EXPORT_RESPONSES = {
    (200, "application/x-ndjson"): OpenApiResponse(response={"type": "string"}, description="`format=jsonl` or `openai`: one JSON object a line, streamed"),
    (200, "text/csv"): OpenApiResponse(response={"type": "string"}, description="`format=csv`, streamed"),
}
