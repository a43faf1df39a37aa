"""What governance shows on lower floors' pages (registered as hooks at ``ready()``): the
retention panel and preview of the organization settings page, and the retention status of a
turn on the turn page (traces cannot import the review and problem tables that hold a turn)."""

from __future__ import annotations

import json

from apps.governance.expiry import expiry_history, organization_preview, turn_retention_status
from apps.governance.models import ExpiryDay


def retention_panel(*, organization) -> dict:
    """The current preview per project and the deletion history (table and chart data)."""
    history = expiry_history(organization=organization)
    return {"previews": organization_preview(organization=organization), "history": history,
            "chart_json": json.dumps(chart_data(history))}


def retention_preview(*, organization, retention_days: int):
    return organization_preview(organization=organization, retention_days=retention_days)


def turn_retention(*, project, turn) -> dict:
    return turn_retention_status(project=project, turn=turn)


def chart_data(history: list[ExpiryDay]) -> dict:
    """Deleted turns per day and project, for the chart (oldest day first)."""
    days = sorted({row.day for row in history})
    projects = sorted({row.project.name for row in history})
    by = {(row.day, row.project.name): row.turns for row in history}
    return {"labels": [day.isoformat() for day in days],
            "series": [{"label": name, "data": [by.get((day, name), 0) for day in days]} for name in projects]}
