"""Cases tried by the property tests, printed at the end of the session (conftest.py) so the
README can quote the figures."""

from __future__ import annotations

from collections import Counter

TRIED: Counter = Counter()
SERVER_ERRORS: Counter = Counter()


def summary() -> str:
    parts = ", ".join(f"{count:,} {what}" for what, count in TRIED.items())
    return f"hypothesis: {parts}; {sum(SERVER_ERRORS.values())} server errors"
