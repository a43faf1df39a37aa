"""How a captured turn is shown: the turn replay (conversation, documents, tool calls, step tree,
signals, feedback) as plain values for templates. Used by the capture pages (apps/traces/views.py)
and by the review page (apps/review/views.py), which replays the turn under review.

Everything here was sent by an SDK and is untrusted: these functions return plain text that the
templates escape (never ``|safe`` or ``mark_safe``); JSON is pretty-printed for a ``<pre>``.
"""

from __future__ import annotations

import json

from apps.traces.selectors import step_tree

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
            {"signal": s, "value": compact(s.value), "badge": signal_badge_class(s.kind)}
            for s in children["signals"]
        ],
        "feedback": children["feedback"],
        "metadata": pretty(turn.metadata) if turn.metadata else "",
    }
