"""A session whose last turn got no user action within the window."""

from __future__ import annotations

import datetime as dt
import re

from apps.detection.detectors.base import TurnData

# Explicit feedback is a user action: a session that ends on it was not abandoned.
USER_ACTION_SIGNALS = frozenset({"thumbs_up", "thumbs_down", "rating", "comment"})

_TERMINAL = re.compile(r"[.!)\]`*\"'’”]\s*$")


def answer_looks_complete(answer: str, punted: bool) -> bool:
    text = answer.strip()
    return bool(text) and not punted and len(text) >= 40 and not text.endswith("?") and bool(_TERMINAL.search(text))


def abandonment(turn: TurnData, *, is_last: bool, now: dt.datetime, window_seconds: int, punted: bool) -> dict | None:
    """The session's last turn, older than the window, with no user action after it.

    The score weighs how the answer looked: a complete answer is probably a satisfied user
    (0.3); a cut-off, empty or punted answer, or a question back to the user, is likely a
    failure (0.8–1.0). The caller keeps only scores at or above the project's ``min_score``.
    """
    if not is_last or turn.created_at is None or now - turn.created_at < dt.timedelta(seconds=window_seconds):
        return None
    if USER_ACTION_SIGNALS & turn.signals.keys():
        return None
    text = turn.answer.strip()
    if not text:
        score = 1.0
    elif punted:
        score = 0.9
    elif text.endswith("?"):
        score = 0.85
    elif answer_looks_complete(text, punted):
        score = 0.3
    else:
        score = 0.8
    return {"score": score}
