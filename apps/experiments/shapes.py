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

# --- changes and validations (key and session routes) ------------------------------------------

_WHEN = {"type": "string", "format": "date-time"}
_NULLABLE_WHEN = {"type": "string", "format": "date-time", "nullable": True}
_VERDICT = {"type": "string", "enum": ["ship", "hold", "inconclusive", "running"]}
CHANGE_STATUSES = ["open", "promoted", "rolled_back"]
CHANGE_OUT = {
    "type": "object",
    "required": ["id", "title", "description", "status", "prompt", "candidate", "baseline", "label", "problems",
                 "latest_validation", "created_at", "promoted_at", "regressions"],
    "properties": {
        "id": _ID, "title": {"type": "string"}, "description": {"type": "string"},
        "status": {"type": "string", "enum": CHANGE_STATUSES}, "prompt": {"type": "string"},
        "candidate": {"type": "integer"}, "baseline": {"type": "integer"}, "label": {"type": "string"},
        "problems": {"type": "array", "items": {"type": "integer"}},
        "latest_validation": {"type": "object", "nullable": True, "properties": {"id": _ID, "verdict": _VERDICT}},
        "created_at": _WHEN, "promoted_at": _NULLABLE_WHEN,
        "regressions": {"type": "array", "items": {"type": "object", "properties": {
            "id": _ID, "signal": {"type": "string"}, "explanation": {"type": "string"}, "resolved": {"type": "boolean"}}}},
    },
}
VALIDATION_SUMMARY = {
    "type": "object", "required": ["id", "kind", "status", "verdict", "progress", "change", "created_at", "finished_at"],
    "properties": {
        "id": _ID, "kind": {"type": "string", "enum": ["offline", "online"]},
        "status": {"type": "string", "enum": ["pending", "running", "done", "failed"]}, "verdict": _VERDICT,
        "progress": {"type": "integer"}, "change": {**_ID, "nullable": True}, "created_at": _WHEN, "finished_at": _NULLABLE_WHEN,
    },
}
CHANGE_DETAIL_OUT = {
    **CHANGE_OUT,
    "required": [*CHANGE_OUT["required"], "problem_details", "diff", "validations", "verdict_history"],
    "properties": {
        **CHANGE_OUT["properties"],
        "problem_details": {"type": "array", "items": {"type": "object", "properties": {
            "id": _ID, "title": {"type": "string"}, "status": {"type": "string"}}}},
        "diff": {"type": "array", "description": "Baseline → candidate, per section: changed, lines added and removed",
                 "items": {"type": "object", "properties": {"name": {"type": "string", "enum": ["template", "tools", "settings"]},
                           "changed": {"type": "boolean"}, "added": {"type": "integer"}, "removed": {"type": "integer"}}}},
        "validations": {"type": "array", "items": VALIDATION_SUMMARY},
        "verdict_history": {"type": "array", "description": "Oldest first", "items": {"type": "object", "properties": {
            "validation": _ID, "kind": {"type": "string"}, "verdict": _VERDICT, "at": _WHEN}}},
    },
}
