"""A case's fields as they arrive (API, hand form, import): validated field by field.

``case_clean(data)`` returns the case's content and lineage, or raises ``CaseInvalid`` with every
problem found as ``(field, reason)``: the API answers them per item, the import per row.
The same shape leaves through the exports (``case_as_dict``), so an export imports back to
identical cases.
"""

from __future__ import annotations

import datetime as dt
import uuid

from apps.core.text import InvalidText, clean_json, clean_text

MAX_TEXT = 200_000
MAX_TAGS = 50
MAX_SHORT = 64
CASE_FIELDS_EDITABLE = ("input", "history", "context", "expected_output", "failure_category", "tags", "split", "metadata")
CONTENT_KEYS = {"input", "history", "context", "expected_output", "failure_category", "tags", "split", "metadata"}
KNOWN_KEYS = CONTENT_KEYS | {"id", "lineage"}
LINEAGE_KEYS = {"turn_id", "project", "decision_id", "reviewer", "problem_id", "problem_title", "source", "added_at", "turn"}


class CaseInvalid(ValueError):
    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in errors))
        self.errors = errors


def _short(value, field: str, errors: list) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.append((field, "must be a string"))
        return ""
    if len(value) > MAX_SHORT:
        errors.append((field, f"must be at most {MAX_SHORT} characters"))
    elif any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in value):
        errors.append((field, "must not contain control characters"))
    return value.strip()


def _text(value, field: str, errors: list, *, required: bool = False) -> str:
    if value is None or value == "":
        if required:
            errors.append((field, "is required"))
        return ""
    if not isinstance(value, str):
        errors.append((field, "must be a string"))
        return ""
    if len(value) > MAX_TEXT:
        errors.append((field, f"must be at most {MAX_TEXT} characters"))
    return value


def _uuid(value, field: str, errors: list) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        errors.append((field, "must be a UUID"))
        return None


def _int(value, field: str, errors: list) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        errors.append((field, "must be an integer"))
        return None
    try:
        number = int(value)
    except ValueError:
        errors.append((field, "must be an integer"))
        return None
    if not 0 < number < 2**63:
        errors.append((field, "must be a positive integer"))
        return None
    return number


def tags_clean(value, errors: list, field: str = "tags") -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        errors.append((field, "must be a list of strings"))
        return []
    if len(value) > MAX_TAGS:
        errors.append((field, f"at most {MAX_TAGS} tags"))
        return []
    tags = []
    for index, tag in enumerate(value):
        before = len(errors)
        tag = _short(tag, f"{field}[{index}]", errors)
        if len(errors) == before and tag and tag not in tags:
            tags.append(tag)
    return tags


def split_clean(value, errors: list) -> str:
    return _short(value, "split", errors)


def _lineage(value, errors: list) -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        errors.append(("lineage", "must be an object"))
        return {}
    added_at = None
    if value.get("added_at"):
        try:
            added_at = dt.datetime.fromisoformat(str(value["added_at"]).replace("Z", "+00:00"))
            if added_at.tzinfo is None:
                added_at = added_at.replace(tzinfo=dt.timezone.utc)
        except ValueError:
            errors.append(("lineage.added_at", "must be an ISO 8601 time"))
    source = value.get("source") or ""
    if source not in ("", "turn", "hand", "import", "api"):
        errors.append(("lineage.source", "must be one of turn, hand, import, api"))
    reviewer = value.get("reviewer") or ""
    if not isinstance(reviewer, str) or len(reviewer) > 254:
        errors.append(("lineage.reviewer", "must be an e-mail address (a string)"))
        reviewer = ""
    title = value.get("problem_title") or ""
    if not isinstance(title, str):
        errors.append(("lineage.problem_title", "must be a string"))
        title = ""
    lineage = {
        "turn_id": _uuid(value.get("turn_id"), "lineage.turn_id", errors),
        "decision_id": _int(value.get("decision_id"), "lineage.decision_id", errors),
        "reviewer_email": reviewer,
        "problem_id": _int(value.get("problem_id"), "lineage.problem_id", errors),
        "problem_title": title[:200],
    }
    if source:
        lineage["source"] = source
    if added_at:
        lineage["added_at"] = added_at
    return lineage


def case_clean(data, *, allow_lineage: bool = True) -> dict:
    """The content (and lineage) of one case from a JSON object; raises ``CaseInvalid``."""
    if not isinstance(data, dict):
        raise CaseInvalid([("", "must be a JSON object")])
    try:
        data = clean_json(data)
    except InvalidText as exc:
        raise CaseInvalid([("", str(exc))]) from None
    errors: list[tuple[str, str]] = []
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        errors.append((unknown[0], f"unknown field (known: {', '.join(sorted(KNOWN_KEYS))})"))
    history = data.get("history")
    if history in (None, ""):
        history = []
    if not isinstance(history, list):
        errors.append(("history", "must be a list of messages"))
    context = data.get("context")
    if context in (None, ""):
        context = {}
    if not isinstance(context, (dict, list)):
        errors.append(("context", "must be an object or a list"))
    metadata = data.get("metadata")
    if metadata in (None, ""):
        metadata = {}
    if not isinstance(metadata, dict):
        errors.append(("metadata", "must be an object"))
    case = {
        "input": _text(data.get("input"), "input", errors, required=True),
        "history": history,
        "context": context,
        "expected_output": _text(data.get("expected_output"), "expected_output", errors),
        "failure_category": _short(data.get("failure_category"), "failure_category", errors),
        "tags": tags_clean(data.get("tags"), errors),
        "split": split_clean(data.get("split"), errors),
        "metadata": metadata,
    }
    if "lineage" in data:
        if allow_lineage:
            case.update(_lineage(data["lineage"], errors))
        else:
            errors.append(("lineage", "is set by the server"))
    if data.get("id") not in (None, ""):
        case["case_id"] = _uuid(data.get("id"), "id", errors)
        if case["case_id"] is None:
            case.pop("case_id")
    if errors:
        raise CaseInvalid(errors)
    return case


def case_as_dict(revision, *, turn_present: bool | None = None) -> dict:
    """A case revision as the API and the exports show it (``case_clean`` reads it back)."""
    lineage = {
        "source": revision.source,
        "project": str(revision.project_id),
        "turn_id": str(revision.turn_id) if revision.turn_id else None,
        "decision_id": revision.decision_id,
        "reviewer": revision.reviewer_email or None,
        "problem_id": revision.problem_id,
        "problem_title": revision.problem_title or None,
        "added_at": revision.added_at.isoformat(),
    }
    if turn_present is not None and revision.turn_id:
        lineage["turn"] = "present" if turn_present else "deleted"
    return {
        "id": str(revision.case_id),
        "input": revision.input,
        "history": revision.history,
        "context": revision.context,
        "expected_output": revision.expected_output,
        "failure_category": revision.failure_category,
        "tags": list(revision.tags),
        "split": revision.split,
        "metadata": revision.metadata,
        "lineage": lineage,
    }


def text_clean(value: str) -> str:
    """One text value from a form or a file (NUL stripped; a lone surrogate is refused)."""
    return clean_text(value)
