"""``POST …/cases`` bodies: a list of items, each a hand-written case or ``{"turn_id", "split"?,
"tags"?}``; every item validated on its own, the good ones added as one version."""

from __future__ import annotations

from apps.core.errors import ServiceError, ValidationFailed
from apps.datasets.cases import CaseInvalid, case_clean, split_clean, tags_clean
from apps.datasets.models import CaseSource
from apps.datasets.services.changes import Author, cases_add, revision_new
from apps.datasets.services.turns import revisions_from_turns

MAX_ITEMS = 1000
TURN_ITEM_KEYS = {"turn_id", "split", "tags"}


def _reject(index: int, code: str, message: str, field: str | None = None, status: int = 400) -> dict:
    outcome = {"index": index, "status": status, "code": code, "message": message}
    if field:
        outcome["field"] = field
    return outcome


def cases_add_batch(*, dataset, author: Author, items, message: str = "", source: str = CaseSource.API):
    """Returns ``(ChangeResult, results)``; ``results[i]`` is item i's outcome: 201 added (with
    ``case_id``), 200 the turn is already a case (its ``case_id``), 400 invalid, 404 no such turn
    in this project (another project's turn is the same 404)."""
    if not isinstance(items, list) or not items:
        raise ValidationFailed("Send {\"cases\": [ … ]} with at least one case.", field="cases", code="required")
    if len(items) > MAX_ITEMS:
        raise ServiceError(f"At most {MAX_ITEMS} cases a request.", code="batch_too_long", field="cases")
    if not isinstance(message, str):
        raise ValidationFailed("The message is text.", field="message")
    results: list = [None] * len(items)
    turn_items, revisions = [], []  # (index, revision)
    for index, item in enumerate(items):
        if isinstance(item, dict) and "turn_id" in item:
            unknown = sorted(set(item) - TURN_ITEM_KEYS)
            errors: list = []
            split = split_clean(item.get("split"), errors)
            tags = tags_clean(item.get("tags"), errors)
            if unknown:
                errors.append((unknown[0], "unknown field of a turn item (turn_id, split, tags)"))
            if errors:
                results[index] = _reject(index, "invalid", f"{errors[0][0]} {errors[0][1]}", f"cases[{index}].{errors[0][0]}")
                continue
            turn_items.append((index, item.get("turn_id"), split, tags))
            continue
        try:
            case = case_clean(item, allow_lineage=False)
        except CaseInvalid as error:
            field_name, reason = error.errors[0]
            results[index] = _reject(index, "invalid", f"{field_name or 'case'} {reason}", f"cases[{index}]" + (f".{field_name}" if field_name else ""))
            continue
        case.pop("case_id", None)
        revisions.append((index, revision_new(case, source=source)))
    from_turns = revisions_from_turns(project=dataset.project, turn_ids=[turn_id for _, turn_id, _, _ in turn_items])
    for (index, _, split, tags), revision in zip(turn_items, from_turns):
        if revision is not None:
            revision.split, revision.tags = split, tags
        if revision is None:
            results[index] = _reject(index, "not_found", "No such turn in this project.", f"cases[{index}].turn_id", status=404)
        else:
            revisions.append((index, revision))
    revisions.sort(key=lambda pair: pair[0])
    result, duplicates = cases_add(
        dataset=dataset, author=author, revisions=[revision for _, revision in revisions], message=message,
    )
    for position, (index, revision) in enumerate(revisions):
        if position in duplicates:
            results[index] = {"index": index, "status": 200, "case_id": str(duplicates[position])}
        else:
            results[index] = {"index": index, "status": 201, "case_id": str(revision.case_id)}
    return result, results
