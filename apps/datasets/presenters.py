"""Datasets, versions and case pages as the APIs show them (one shape for key and session routes)."""

from __future__ import annotations

import base64
import json

from apps.core.errors import ValidationFailed
from apps.datasets.cases import case_as_dict
from apps.datasets.selectors.datasets import turns_present


def dataset_out(dataset) -> dict:
    return {
        "id": dataset.pk,
        "name": dataset.name,
        "description": dataset.description,
        "archived": dataset.archived,
        "latest_version": dataset.latest_version or None,
        "cases_count": dataset.cases_count,
        "created_at": dataset.created_at.isoformat(),
        "updated_at": dataset.updated_at.isoformat(),
    }


def version_out(version) -> dict:
    return {
        "number": version.number,
        "message": version.message,
        "author": version.author_label or None,
        "created_at": version.created_at.isoformat(),
        "cases_count": version.cases_count,
        "added": version.added_count,
        "removed": version.removed_count,
        "changed": version.changed_count,
    }


def cases_out(project, revisions) -> list[dict]:
    present = turns_present(project=project, turn_ids=[revision.turn_id for revision in revisions])
    return [case_as_dict(revision, turn_present=revision.turn_id in present) for revision in revisions]


def cursor_encode(position: int | None) -> str | None:
    if position is None:
        return None
    return base64.urlsafe_b64encode(json.dumps({"after": position}).encode()).decode().rstrip("=")


def cursor_decode(raw: str | None) -> int:
    if not raw:
        return 0
    try:
        value = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))["after"]
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    except (ValueError, KeyError, TypeError):
        pass
    raise ValidationFailed("Invalid cursor: pass the 'cursor' of a page as it is.", field="cursor")


def filters_from_query(params) -> dict:
    """The case list's filters from a query string (``split``, ``tag``, ``category``, ``q``)."""
    filters = {}
    for key, name in (("split", "split"), ("tag", "tag"), ("category", "category"), ("q", "text")):
        if key in params:
            value = params.get(key).replace("\x00", "")  # PostgreSQL text cannot hold NUL
            if len(value) > 200:
                raise ValidationFailed(f"'{key}' is at most 200 characters.", field=key)
            filters[name] = value
    return filters
