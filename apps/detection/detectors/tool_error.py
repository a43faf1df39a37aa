"""A step or a tool call that failed."""

from __future__ import annotations

from apps.detection.detectors.base import TurnData


def tool_error(turn: TurnData) -> dict | None:
    """A failed step, or a tool call that reports an error."""
    failed = list(turn.step_errors)
    for call in turn.tool_calls:
        if not isinstance(call, dict):
            continue
        status = call.get("status")  # a missing or null status is not "error"
        if call.get("error") or (status is not None and str(status).lower() in ("error", "failed")):
            failed.append(str(call.get("name") or call.get("tool") or "tool"))
    return {"failed": failed[:20]} if failed else None
