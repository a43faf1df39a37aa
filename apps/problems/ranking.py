"""The backlog's ranking: user pain, one formula, shown on the page with every factor.

    pain = (U + ¼·T) × S × R × G

U  distinct affected end users (a turn without a user id counts its session, else itself)
T  turns in the problem
S  mean severity of the turns, 1–5 (escalation 5, thumbs-down 4, rephrase 3, other detectors 2,
   random sample 1; a reviewer's confirmation counts at least 3)
R  recency = ½^(days since the last turn ÷ 7): a week-old problem counts half
G  trend = (turns in the last 7 days + 1) ÷ (turns in the 7 days before + 1), kept within ½…2
"""

from __future__ import annotations

import datetime as dt

TURN_WEIGHT = 0.25
HALF_LIFE_DAYS = 7.0
TREND_MIN, TREND_MAX = 0.5, 2.0
FORMULA = "pain = (U + ¼·T) × S × R × G"
FACTORS = [
    ("U", "distinct affected end users (no user id: the session, else the turn)"),
    ("T", "turns in the problem"),
    ("S", "mean severity 1–5: escalation 5, thumbs-down 4, rephrase or reviewer-confirmed 3, other detectors 2, random sample 1"),
    ("R", "recency = ½^(days since the last turn ÷ 7)"),
    ("G", "trend = (last 7 days + 1) ÷ (previous 7 days + 1), between ½ and 2"),
]


def recency(last_seen: dt.datetime | None, now: dt.datetime) -> float:
    if last_seen is None:
        return 0.0
    age_days = max(0.0, (now - last_seen).total_seconds() / 86400)
    return 0.5 ** (age_days / HALF_LIFE_DAYS)


def trend(last_7d: int, prev_7d: int) -> float:
    return min(TREND_MAX, max(TREND_MIN, (last_7d + 1) / (prev_7d + 1)))


def pain(*, users: int, turns: int, severity: float, last_seen, last_7d: int, prev_7d: int, now: dt.datetime) -> dict:
    """Every factor and the product, rounded the way the page shows them."""
    r, g = recency(last_seen, now), trend(last_7d, prev_7d)
    value = (users + TURN_WEIGHT * turns) * severity * r * g if turns else 0.0
    return {"recency": round(r, 4), "trend": round(g, 4), "pain": round(value, 3)}
