"""Which turns are failures, and how badly: the one reading of signals the backlog uses.

A turn is *flagged* when it carries a failure signal — explicit (thumbs-down, a low star
rating, an escalation reported by the customer) or found by a detector (every built-in detector
and every customer rule emits a failure kind) — or a reviewer confirmed it. A reviewer's latest
decisive verdict wins: a turn whose last confirm/reject decision is "reject" is not a failure,
whatever its signals say.

Severity orders user pain: escalation > thumbs-down > rephrase > other detectors > sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apps.detection.config import DETECTORS

SEVERITY = {
    "escalation": 5,
    "thumbs_down": 4,
    "rating": 4,  # a star rating of 1 or 2
    "rephrase": 3,
    "confirmed": 3,  # a reviewer confirmed the failure (without a stronger signal)
    "random_sample": 1,
    "sample": 1,
}
OTHER_FAILURE = 2  # every other detector kind and customer rule
SEVERITY_LABELS = [
    (5, "escalation"), (4, "thumbs-down or a 1–2 star rating"), (3, "rephrase, or confirmed by a reviewer"),
    (2, "other detectors and customer rules"), (1, "random sample"),
]
EXPLICIT_FAILURES = frozenset({"thumbs_down", "escalation", "reverted_quickly", "sample"})
NOT_FAILURES = frozenset({"thumbs_up", "comment", "confidence"})
LOW_RATING = 2


@dataclass(slots=True)
class TurnFlags:
    kinds: list[str] = field(default_factory=list)  # failure kinds, sorted
    severity: int = 0
    retrieval_gap: str = ""  # "empty" / "low_score" (from the knowledge-gap detector's finding)
    failed_tools: list[str] = field(default_factory=list)
    category: str = ""
    confirmed: bool = False
    rejected: bool = False

    @property
    def flagged(self) -> bool:
        return not self.rejected and (bool(self.kinds) or self.confirmed)

    @property
    def key_tool(self) -> str:
        return self.failed_tools[0] if self.failed_tools else ""


def _truthy(value) -> bool:
    return value not in (None, False, 0, "", [], {})


def is_failure(kind: str, value, source: str) -> bool:
    if kind in NOT_FAILURES:
        return False
    if kind == "rating":
        return not isinstance(value, bool) and isinstance(value, (int, float)) and value <= LOW_RATING
    if source == "detector":
        return True  # built-in detectors and customer rules only emit what they flag
    return (kind in EXPLICIT_FAILURES or kind in DETECTORS) and _truthy(value)


def turn_flags(signals, verdict: tuple[str, str] | None = None) -> TurnFlags:
    """``signals``: (kind, value, source) of one turn; ``verdict``: its latest decisive review
    decision as (verdict, category), ``("confirm", "hallucination")`` or ``("reject", "")``."""
    flags = TurnFlags()
    kinds: set[str] = set()
    tools: set[str] = set()
    for kind, value, source in signals:
        if not is_failure(kind, value, source):
            continue
        kinds.add(kind)
        if kind == "knowledge_gap":
            reason = value.get("reason") if isinstance(value, dict) else None
            flags.retrieval_gap = "empty" if reason == "empty" else (flags.retrieval_gap or "low_score")
        elif kind == "tool_error" and isinstance(value, dict):
            tools.update(str(name)[:200] for name in (value.get("failed") or []) if name)
    flags.kinds = sorted(kinds)
    flags.failed_tools = sorted(tools)
    if verdict is not None:
        flags.confirmed = verdict[0] == "confirm"
        flags.rejected = verdict[0] == "reject"
        flags.category = (verdict[1] or "")[:64] if flags.confirmed else ""
    weights = [SEVERITY.get(kind, OTHER_FAILURE) for kind in kinds]
    if flags.confirmed:
        weights.append(SEVERITY["confirmed"])
    flags.severity = max(weights, default=0)
    return flags
