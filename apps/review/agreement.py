"""Inter-reviewer agreement on a queue's multi-reviewed items (pure functions, no database).

An item is ``{verdict: votes}``. Fleiss' kappa is the generalized form for a varying number of
raters per item (Fleiss 1971; each item weighted equally):

    P_i = (Σ_j n_ij² − n_i) / (n_i (n_i − 1))      agreement on item i
    P̄   = mean of P_i
    p_j = Σ_i n_ij / Σ_i n_i                       share of all votes for verdict j
    P_e = Σ_j p_j²                                 agreement expected by chance
    κ   = (P̄ − P_e) / (1 − P_e)

κ is undefined (None) without items or when every vote went to one verdict (P_e = 1).
"""

from __future__ import annotations


def fleiss_kappa(items: list[dict[str, int]]) -> float | None:
    items = [item for item in items if sum(item.values()) >= 2]
    if not items:
        return None
    totals: dict[str, int] = {}
    agreement = 0.0
    for item in items:
        n = sum(item.values())
        agreement += (sum(count * count for count in item.values()) - n) / (n * (n - 1))
        for verdict, count in item.items():
            totals[verdict] = totals.get(verdict, 0) + count
    observed = agreement / len(items)
    votes = sum(totals.values())
    expected = sum((count / votes) ** 2 for count in totals.values())
    if expected >= 1:
        return None
    return (observed - expected) / (1 - expected)


def agreement_summary(items: list[dict[str, int]]) -> dict:
    """``{"items", "unanimous_percent", "kappa"}`` for one queue (percent and kappa rounded)."""
    items = [item for item in items if sum(item.values()) >= 2]
    kappa = fleiss_kappa(items)
    unanimous = sum(1 for item in items if len([c for c in item.values() if c]) == 1)
    return {
        "items": len(items),
        "unanimous_percent": round(100 * unanimous / len(items), 1) if items else None,
        "kappa": round(kappa, 3) if kappa is not None else None,
    }
