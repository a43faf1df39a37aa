"""OpenAPI shapes of the experiment routes (plain JSON Schema; the views build the bodies)."""

from __future__ import annotations

from apps.experiments.scorers import KINDS

_NULLABLE_NUM = {"type": "number", "nullable": True}
_NULLABLE_INT = {"type": "integer", "nullable": True}
_ID = {"type": "integer", "minimum": 1, "maximum": 9223372036854775807}

SCORER = {
    "type": "object",
    "required": ["kind"],
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
        "kind": {"type": "string", "enum": list(KINDS)},
        "ignore_case": {"type": "boolean"},
        "value": {"type": "string", "minLength": 1, "maxLength": 1000},
        "pattern": {"type": "string", "minLength": 1, "maxLength": 300},
        "schema": {"type": "object"},
        "tolerance": {"type": "number", "minimum": 0},
        "expected": {"type": "number"},
        "threshold": {"type": "number", "minimum": 0, "maximum": 1},
        "method": {"type": "string", "enum": ["tfidf", "fuzzy"], "default": "tfidf"},
        "expect": {"type": "boolean"},
    },
}
EXPERIMENT_IN = {
    "type": "object",
    "required": ["name", "dataset", "dataset_version"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "dataset": {"type": "string", "minLength": 1, "maxLength": 100},
        "dataset_version": {"type": "integer", "minimum": 1, "maximum": 2147483647},
        "prompt": {"type": "object", "required": ["name", "version"], "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "version": {"type": "integer", "minimum": 1, "maximum": 2147483647}}},
        "configuration": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200}}},
        "scorers": {"type": "array", "maxItems": 20, "items": SCORER},
        "endpoint": {"type": "object", "required": ["url", "secret"], "properties": {
            "url": {"type": "string", "format": "uri", "maxLength": 2000},
            "secret": {"type": "string", "minLength": 16, "maxLength": 200},
            "timeout": {"type": "number", "minimum": 1, "maximum": 60, "default": 10},
            "concurrency": {"type": "integer", "minimum": 1, "maximum": 32, "default": 8}},
            "additionalProperties": False},
    },
    "additionalProperties": False,
}
CREATED_OUT = {"type": "object", "required": ["id"], "properties": {"id": _ID}}
SUMMARY_ENTRY = {
    "type": "object", "required": ["n", "passed", "pass_rate", "mean"],
    "properties": {"n": {"type": "integer"}, "passed": _NULLABLE_INT, "pass_rate": _NULLABLE_NUM, "mean": _NULLABLE_NUM},
}
EXPERIMENT_OUT = {
    "type": "object",
    "required": ["id", "name", "dataset", "dataset_version", "prompt", "configuration", "scorers", "source", "status",
                 "cases_total", "cases_done", "results_count", "errors_count", "error", "summary", "created_at"],
    "properties": {
        "id": _ID, "name": {"type": "string"}, "dataset": {"type": "string"}, "dataset_version": {"type": "integer"},
        "prompt": {"type": "object", "nullable": True, "properties": {"name": {"type": "string"}, "version": {"type": "integer"}}},
        "configuration": {"type": "object"}, "scorers": {"type": "array", "items": {"type": "object"}},
        "source": {"type": "string", "enum": ["sdk", "endpoint", "upload"]},
        "status": {"type": "string", "enum": ["pending", "running", "done", "failed"]},
        "cases_total": {"type": "integer"}, "cases_done": {"type": "integer"},
        "results_count": {"type": "integer"}, "errors_count": {"type": "integer"},
        "error": {"type": "string"},
        "summary": {"type": "object", "additionalProperties": SUMMARY_ENTRY},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
EXPERIMENT_LIST = {"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": EXPERIMENT_OUT}}}
RESULT_ITEM = {
    "type": "object",
    "required": ["case_id", "output"],
    "properties": {
        "case_id": {"type": "string", "format": "uuid"},
        "output": {"type": "string", "maxLength": 100000},
        "scores": {"type": "object", "maxProperties": 50, "additionalProperties": {"oneOf": [{"type": "number"}, {"type": "boolean"}]}},
        "error": {"type": "string", "maxLength": 2000},
    },
}
RESULTS_IN = {"type": "object", "required": ["results"],
              "properties": {"results": {"type": "array", "maxItems": 1000, "items": RESULT_ITEM}}}
OUTCOME = {
    "type": "object", "required": ["case_id", "status"],
    "properties": {"case_id": {"type": "string", "nullable": True}, "status": {"type": "integer"},
                   "code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}},
}
UPLOAD_OUT = {"type": "object", "required": ["accepted", "rejected", "results"],
              "properties": {"accepted": {"type": "integer"}, "rejected": {"type": "integer"},
                             "results": {"type": "array", "items": OUTCOME}}}
CASE_IDS_OUT = {"type": "object", "required": ["case_ids"],
                "properties": {"case_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}}}}
