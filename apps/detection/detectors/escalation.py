"""The user asks for a human / support / a manager, or the customer reported ``escalation``."""

from __future__ import annotations

import re

from apps.detection.detectors.base import TurnData
from apps.detection.detectors.text import folded

_ESCALATION = re.compile(
    r"""
    \b(?=[tscprlaehig])(?:
    \b(?:talk|speak|chat|connect|transfer|put)\s+(?:me\s+)?(?:to|with|through\s+to)\s+
        (?:a|an|the|your|some|someone\s+from)?\s*(?:real\s+|live\s+|actual\s+)?
        (?:human|person|agent|representative|rep|manager|supervisor|someone|support|operator)\b
  | \b(?:real|live|actual)\s+(?:human|person)\b
  | \bescalate\s+(?:this|my|the|it)\b
  | \b(?:human|customer)\s+(?:support|service)\s*(?:please|now|!)
  | \bi\s+(?:want|need|demand)\s+(?:a|an|your|to\s+(?:talk|speak)\s+to\s+(?:a|an|your))\s+(?:human|manager|supervisor|representative)\b
  | \b(?:get|give)\s+me\s+(?:a|an|your)\s+(?:human|manager|supervisor)\b
    )""",
    re.IGNORECASE | re.VERBOSE,
)


# Every alternative of ``_ESCALATION`` contains one of these words, so a question holding none of
# them cannot match and skips the regex (about 10 µs on a typical question; the check below 2 µs).
_ESCALATION_WORDS = ("human", "person", "agent", "rep", "manag", "sup", "someone", "operator", "escalate", "service")


def may_escalate(question: str) -> bool:
    """False only for a question ``_ESCALATION`` cannot match (a necessary condition, exact)."""
    lowered = folded(question)
    for word in _ESCALATION_WORDS:
        if word in lowered:
            return True
    return False


def escalation(turn: TurnData) -> dict | None:
    """The user asks for a human / support / a manager, or the customer reported ``escalation``."""
    if turn.signals.get("escalation") not in (None, False, 0, ""):
        return {"reason": "signal"}
    match = _ESCALATION.search(turn.question) if may_escalate(turn.question) else None
    if match:
        return {"reason": "asked", "phrase": match.group(0)[:100]}
    return None
