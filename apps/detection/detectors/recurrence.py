"""An end user who comes back in another session with the same question (the pairs; ``runner`` scores them)."""

from __future__ import annotations

import datetime as dt
from operator import attrgetter

from apps.detection.detectors.base import TurnData

_CREATED_AT = attrgetter("created_at")
_NO_GAP = dt.timedelta(0)


def history_by_user(history) -> dict[str, list[TurnData]]:
    """Earlier turns grouped by end user, newest first (built once per batch)."""
    by_user: dict[str, list[TurnData]] = {}
    for h in history:
        if h.end_user_id and h.created_at is not None and h.question.strip():
            by_user.setdefault(h.end_user_id, []).append(h)
    for turns in by_user.values():
        turns.sort(key=_CREATED_AT, reverse=True)
    return by_user


def recurrence_candidates(session: list[TurnData], history, window_seconds: int, limit: int = 5):
    """(earlier turn in another session, this turn) pairs of the same end user within the window.

    ``history`` is a list of turns or the output of ``history_by_user``.
    """
    if not history or not session or not session[0].end_user_id:
        return []
    by_user = history if isinstance(history, dict) else history_by_user(history)
    window = dt.timedelta(seconds=window_seconds)
    pairs = []
    for turn in session:
        earlier_turns = by_user.get(turn.end_user_id)
        if not earlier_turns or turn.created_at is None or not turn.question.strip():
            continue
        chosen = 0
        for h in earlier_turns:  # newest first
            gap = turn.created_at - h.created_at
            if gap <= _NO_GAP or h.session_id == turn.session_id:
                continue
            if gap > window:
                break
            pairs.append((h, turn))
            chosen += 1
            if chosen == limit:
                break
    return pairs
