"""Proposing a likely cause from evidence: what is over-represented in a problem's turns
compared with the project's baseline (all its turns over the last ``BASELINE_DAYS``).

Pure functions over counts. Every candidate finding is kept as evidence (share in the problem,
share in the baseline, lift); the proposal is the strongest finding that clears its thresholds
and that no reviewer rejected for this problem. Weak evidence (too few turns, a concentration
the whole project shares) proposes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

BASELINE_DAYS = 30
MIN_TURNS = 3
# kind → (minimum share in the problem, minimum lift over the baseline, weight in the ranking)
THRESHOLDS = {
    "retrieval": (0.5, 2.0, 1.0),
    "tool": (0.4, 2.0, 1.0),
    "prompt_version": (0.8, 1.25, 0.9),
    "model": (0.8, 1.25, 0.8),
    "signal": (0.6, 2.0, 0.5),
}
SIGNAL_LABELS = {
    "agent_punted": "the agent said it could not help",
    "escalation": "the user asked for a human",
    "rephrase": "the user had to rephrase",
    "thumbs_down": "the user gave a thumbs-down",
    "abandonment": "the user abandoned the conversation",
    "low_confidence": "the agent reported low confidence",
    "recurrence": "the user came back with the same issue",
}


@dataclass(slots=True)
class Counts:
    """Turn counts for a problem's members or for the project baseline."""

    total: int = 0
    gap_empty: int = 0
    gap_low: int = 0
    tools: dict = field(default_factory=dict)  # failed tool → turns
    prompt_versions: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    kinds: dict = field(default_factory=dict)  # failure signal kind → turns


def _percent(share: float) -> str:
    return f"{round(share * 100)}%"


def _lift(count: int, total: int, base_count: int, base_total: int) -> tuple[float, float]:
    share = count / total if total else 0.0
    # Laplace-smoothed baseline: a value the baseline never saw still gets a finite lift.
    base = (base_count + 1) / (base_total + 2)
    return share, share / base


def _finding(kind, key, label, count, counts: Counts, base_count, baseline: Counts, text) -> dict:
    share, lift = _lift(count, counts.total, base_count, baseline.total)
    base_share = base_count / baseline.total if baseline.total else 0.0
    minimum_share, minimum_lift, weight = THRESHOLDS[kind]
    vs = f" (vs {_percent(base_share)} of all turns)" if baseline.total else ""
    return {
        "kind": kind, "key": key, "label": label, "count": count, "share": round(share, 4),
        "baseline_share": round(base_share, 4), "lift": round(lift, 2),
        "qualifies": share >= minimum_share and lift >= minimum_lift,
        "score": round(weight * share * math.log2(max(lift, 1.0)), 4),
        "text": text(share) + vs,
    }


def _concentration(share: float, label: str) -> str:
    return f"all on {label}" if share >= 0.995 else f"{_percent(share)} on {label}"


def findings(counts: Counts, baseline: Counts) -> list[dict]:
    """Every candidate finding, strongest first."""
    if counts.total <= 0:
        return []
    found = []
    gaps = counts.gap_empty + counts.gap_low
    if counts.gap_empty and counts.gap_empty >= counts.gap_low:
        found.append(_finding(
            "retrieval", "retrieval:empty", "retrieval returned nothing", counts.gap_empty, counts, baseline.gap_empty,
            baseline, lambda s: f"{_percent(s)} of these turns retrieved nothing",
        ))
    elif gaps:
        found.append(_finding(
            "retrieval", "retrieval:gap", "retrieval returned nothing or only low-scoring documents", gaps, counts,
            baseline.gap_empty + baseline.gap_low, baseline,
            lambda s: f"{_percent(s)} of these turns retrieved nothing or only low-scoring documents",
        ))
    for tool, count in counts.tools.items():
        found.append(_finding(
            "tool", f"tool:{tool}", f"tool {tool} failed", count, counts, baseline.tools.get(tool, 0), baseline,
            lambda s, tool=tool: f"tool `{tool}` failed in {_percent(s)} of these turns",
        ))
    for name, values, kind in (("prompt", counts.prompt_versions, "prompt_version"), ("model", counts.models, "model")):
        base_values = baseline.prompt_versions if kind == "prompt_version" else baseline.models
        for value, count in values.items():
            if not value:
                continue
            label = f"{name} {value}"
            found.append(_finding(
                kind, f"{kind}:{value}", label, count, counts, base_values.get(value, 0), baseline,
                lambda s, label=label: _concentration(s, label),
            ))
    for signal, count in counts.kinds.items():
        if signal in SIGNAL_LABELS:
            found.append(_finding(
                "signal", f"signal:{signal}", SIGNAL_LABELS[signal], count, counts, baseline.kinds.get(signal, 0),
                baseline, lambda s, signal=signal: f"in {_percent(s)} of these turns {SIGNAL_LABELS[signal]}",
            ))
    found.sort(key=lambda f: (-f["qualifies"], -f["score"], f["key"]))
    return found


def propose(counts: Counts, baseline: Counts, rejected=()) -> tuple[dict | None, dict]:
    """(the proposed finding or None, the evidence to store)."""
    all_findings = findings(counts, baseline) if counts.total >= MIN_TURNS else []
    rejected = set(rejected)
    chosen = next((f for f in all_findings if f["qualifies"] and f["key"] not in rejected), None)
    evidence = {
        "turns": counts.total,
        "baseline_turns": baseline.total,
        "baseline_days": BASELINE_DAYS,
        "findings": all_findings[:12],
        "chosen": chosen["key"] if chosen else "",
        "note": "" if counts.total >= MIN_TURNS else f"Fewer than {MIN_TURNS} turns: too little evidence for a cause.",
    }
    return chosen, evidence


def next_from_evidence(evidence: dict, rejected) -> dict | None:
    """After a rejection: the strongest stored finding that still qualifies and was not rejected."""
    rejected = set(rejected)
    return next(
        (f for f in (evidence or {}).get("findings", []) if f.get("qualifies") and f.get("key") not in rejected), None
    )
