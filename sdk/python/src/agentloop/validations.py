"""Validations over the key routes: start one, wait for its verdict, read its report.

    report = loop.validate(kind="offline", baseline=41, candidate=42)          # waits (timeout=600 s)
    report = loop.validate(kind="online", baseline={"variant": "A"}, candidate={"variant": "B"},
                           target={"signal": "thumbs_down", "direction": "decrease"},
                           guardrails=[{"signal": "escalation", "direction": "decrease", "tolerance": 0.01}])
    report["verdict"]   # "ship" | "hold" | "inconclusive" | "running"
    loop.validation(report["id"])

A call the server refuses raises ``AgentLoopError`` with its stable ``code``
(``dataset_version_mismatch``, ``same_arms``, ``invalid_alpha``, ``invalid_tolerance``, …).
"""

from __future__ import annotations

import time
from typing import Any

from agentloop.datasets import _request

FINISHED = ("done", "failed")


def validation(client: Any, validation_id: int) -> dict:
    return _request(client, "GET", f"/api/v1/validations/{int(validation_id)}")


def validate(client: Any, *, wait: bool = True, timeout: float = 600.0, poll: float = 2.0, **body: Any) -> dict:
    """POST the pinned body; with ``wait`` poll until the job is finished (``done``/``failed``),
    an online test is ``running`` toward its horizon, or ``timeout`` seconds pass. Returns the report."""
    started = _request(client, "POST", "/api/v1/validations", {key: value for key, value in body.items() if value is not None})
    report = validation(client, started["id"])
    deadline = time.monotonic() + timeout
    while wait and report["status"] == "pending" or (wait and report["status"] == "running" and report["verdict"] != "running"):
        if time.monotonic() >= deadline:
            break
        time.sleep(poll)
        report = validation(client, started["id"])
    return report


def render(report: dict) -> str:
    """The report as text (the CI gate prints it)."""
    lines = [f"Validation {report['id']} ({report['kind']}): {report['status']}, verdict {report['verdict'].upper()}"]
    lines += [f"  {line}" for line in (report.get("explanation") or "").splitlines()]
    if report.get("sample_needed"):
        lines.append(f"  Sample needed per arm: {report['sample_needed']:,}")
    if report.get("flipped"):
        lines.append(f"  Flipped cases: {len(report['flipped'])}")
        lines += [f"    {f['case_id']} {f['scorer']}: {'pass' if f['baseline'] else 'fail'} → {'pass' if f['candidate'] else 'fail'}"
                  for f in report["flipped"][:20]]
    if report.get("error"):
        lines.append(f"  Error: {report['error']}")
    return "\n".join(lines)
