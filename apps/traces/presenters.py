"""How a captured turn is shown: the turn replay (conversation, documents, tool calls, step tree,
signals, feedback) as plain values for templates. Used by the capture pages (apps/traces/views.py)
and by the review page (apps/review/views.py), which replays the turn under review.

Everything here was sent by an SDK and is untrusted: these functions return plain text that the
templates escape (never ``|safe`` or ``mark_safe``); JSON is pretty-printed for a ``<pre>``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from apps.traces.models import Step

# Signal kinds that mean "something went wrong" (red badges); thumbs_up is the good one.
NEGATIVE_SIGNALS = {
    "thumbs_down", "rephrase", "abandonment", "escalation", "agent_punted", "low_confidence",
    "recurrence", "reverted_quickly",
}


def signal_badge_class(kind: str) -> str:
    """The badge's CSS class: red for a negative signal, green for thumbs up."""
    if kind in NEGATIVE_SIGNALS:
        return "signal-bad"
    if kind == "thumbs_up":
        return "signal-good"
    return "signal"


def pretty(value) -> str:
    """Plain text for any captured JSON value (the template escapes it)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def compact(value) -> str:
    """One-line text for a captured JSON value (a signal's value, a document id)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def signal_explanation(value) -> str:
    """Why a signal fired, in words: the detector's own ``explain`` string when its value has one
    (apps/detection: "repair cue 'i mean'; word similarity 0.71; …"), else the value's scalar fields
    ("phrase: i don't know; score: 0.82"), ids left out (the replay links turns elsewhere)."""
    if not isinstance(value, dict):
        return "" if value is None or isinstance(value, (bool, dict, list)) else compact(value)
    explain = value.get("explain")
    if isinstance(explain, str) and explain.strip():
        return explain.strip()
    parts = [
        f"{key.replace('_', ' ')}: {compact(item)}" for key, item in value.items()
        if not key.endswith("_id") and key != "explain" and isinstance(item, (str, int, float)) and not isinstance(item, bool)
    ]
    return "; ".join(parts)


def history_entries(history) -> list[dict]:
    entries = []
    for item in history if isinstance(history, list) else [history]:
        if isinstance(item, dict) and isinstance(item.get("content"), str) and set(item) <= {"role", "content", "name"}:
            entries.append({"role": str(item.get("role") or "message"), "text": item["content"], "json": ""})
        else:
            role = item.get("role") if isinstance(item, dict) else None
            entries.append({"role": str(role or "item"), "text": "", "json": pretty(item)})
    return entries


def document_rows(retrieved) -> list[dict]:
    documents = []
    for item in retrieved if isinstance(retrieved, list) else [retrieved]:
        if isinstance(item, dict):
            rest = dict(item)
            doc_id = rest.pop("id", None) or rest.pop("doc_id", None) or ""
            score = rest.pop("score", None)
            text = rest.pop("text", None) or rest.pop("content", None) or rest.pop("page_content", None) or ""
            documents.append({"id": compact(doc_id), "score": "" if score is None else compact(score),
                              "text": pretty(text), "extra": pretty(rest) if rest else ""})
        else:
            documents.append({"id": "", "score": "", "text": pretty(item), "extra": ""})
    return documents


def tool_call_rows(tool_calls) -> list[dict]:
    calls = []
    for item in tool_calls if isinstance(tool_calls, list) else [tool_calls]:
        if isinstance(item, dict):
            rest = dict(item)
            name = rest.pop("name", None) or rest.pop("tool", None) or ""
            arguments = next((rest.pop(key) for key in ("arguments", "args", "input") if key in rest), None)
            result = next((rest.pop(key) for key in ("result", "output") if key in rest), None)
            error = rest.pop("error", None)
            calls.append({"name": compact(name), "arguments": pretty(arguments), "result": pretty(result),
                          "error": pretty(error), "extra": pretty(rest) if rest else ""})
        else:
            calls.append({"name": "", "arguments": "", "result": pretty(item), "error": "", "extra": ""})
    return calls


def step_rows(steps) -> list[dict]:
    return [
        {
            "node": node, "step": node.step,
            "input": pretty(node.step.input), "output": pretty(node.step.output),
            "attributes": pretty(node.step.attributes) if node.step.attributes else "",
        }
        for node in step_tree(steps)
    ]


def turn_replay(*, turn, children: dict) -> dict:
    """The replay's content for a template; ``children`` is ``selectors.turn_children``'s answer."""
    return {
        "history": history_entries(turn.history),
        "documents": document_rows(turn.retrieved),
        "tool_calls": tool_call_rows(turn.tool_calls),
        "steps": step_rows(children["steps"]),
        "signals": [
            {"signal": s, "value": compact(s.value), "badge": signal_badge_class(s.kind), "explain": signal_explanation(s.value)}
            for s in children["signals"]
        ],
        "feedback": children["feedback"],
        "metadata": pretty(turn.metadata) if turn.metadata else "",
    }


@dataclass
class StepNode:
    step: Step
    depth: int
    offset_ms: float | None
    bar_left: float  # percent of the turn's timeline
    bar_width: float
    children: int = 0


def step_tree(steps: list[Step]) -> list[StepNode]:
    """Steps in depth-first order (parent before children, siblings by start time) with timing bars.

    A step whose parent span is not among the steps (not sent, or sent later) is shown as a root;
    a parent cycle (malformed client data) cannot loop: each step is placed once.
    """
    by_span = {step.span_id: step for step in steps}
    children: dict[str, list[Step]] = {}
    roots = []
    for step in steps:
        parent = step.parent_span_id
        if parent and parent in by_span and parent != step.span_id:
            children.setdefault(parent, []).append(step)
        else:
            roots.append(step)

    def order(step):
        return (step.started_at is None, step.started_at or dt.datetime.min.replace(tzinfo=dt.timezone.utc), step.pk or 0)

    starts = [s.started_at for s in steps if s.started_at]
    ends = [s.ended_at or s.started_at for s in steps if s.started_at]
    origin = min(starts) if starts else None
    total_ms = max(((max(ends) - origin).total_seconds() * 1000) if origin else 0, 1)

    nodes: list[StepNode] = []
    placed: set[str] = set()

    def visit(step, depth):
        if step.span_id in placed:
            return
        placed.add(step.span_id)
        offset = (step.started_at - origin).total_seconds() * 1000 if origin and step.started_at else None
        duration = step.duration_ms or 0
        left = round(offset / total_ms * 100, 2) if offset is not None else 0
        width = round(max(duration / total_ms * 100, 0.5), 2) if offset is not None else 0
        kids = sorted(children.get(step.span_id, []), key=order)
        nodes.append(StepNode(step=step, depth=depth, offset_ms=offset, bar_left=min(left, 99.5),
                              bar_width=min(width, 100 - min(left, 99.5)), children=len(kids)))
        for child in kids:
            visit(child, depth + 1)

    for root in sorted(roots, key=order):
        visit(root, 0)
    for step in sorted(steps, key=order):  # steps only reachable through a cycle
        visit(step, 0)
    return nodes
