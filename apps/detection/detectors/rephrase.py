"""A user who asks the same thing again in the next turn (the pairs; ``runner`` scores them)."""

from __future__ import annotations

import datetime as dt
import re
from itertools import pairwise

from apps.detection.detectors.base import TurnData

_FOLLOW_UP = re.compile(
    r"^\s*(?:and|also|plus|what\s+about|how\s+about|what\s+if|then|ok(?:ay)?|thanks|thank\s+you|thx|great|cool|"
    r"perfect|nice|got\s+it|so|but\s+what|one\s+more|another\s+question|follow[-\s]?up|next|now)\b",
    re.IGNORECASE,
)


def is_follow_up(text: str) -> bool:
    """Markers of a genuine follow-up or an acknowledgement rather than a re-ask."""
    return bool(_FOLLOW_UP.search(text))


def rephrase_candidates(session: list[TurnData], window_seconds: int) -> list[tuple[TurnData, TurnData]]:
    """(turn, next turn) pairs of one session (sorted by time) that could be a rephrase."""
    window = dt.timedelta(seconds=window_seconds)
    pairs = []
    for current, following in pairwise(session):
        if current.created_at is None or following.created_at is None:
            continue
        if following.created_at - current.created_at > window:
            continue
        if not following.question.strip() or not current.question.strip() or is_follow_up(following.question):
            continue
        pairs.append((current, following))
    return pairs
