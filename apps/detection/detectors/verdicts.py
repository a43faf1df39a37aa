"""Per-process memos of the text detectors' verdicts (``runner.run_detectors`` reads and fills them).

Agent punted, a request for a human, frustration and factual claim are pure functions of the
texts they are given, so their verdicts are kept per process, keyed by those texts: a session
comes back whole whenever one of its turns lands (``detect_sessions`` after each ingestion
batch), and its earlier turns are then decided from the memo instead of anew; a text that recurs
(a stock answer, "thanks") is decided once. A detector that starts to read more of a turn than
the texts in its key must not be memoised.
"""

from __future__ import annotations

# (detector, project phrases) → {the texts it reads → its verdict}. Bounded like the rephrase
# memos, for all projects together (a worker serves many: every memo is dropped when their
# entries reach the bound, checked once per pass) and cleared with them
# (``rephrase_model.clear_memos``).
_VERDICTS: dict[tuple, dict] = {}
VERDICTS_MAX = 40_000
UNSEEN = object()  # a memo's "not decided yet" (None is a verdict: nothing fired)


def verdicts(detector: str, phrases: tuple = ()) -> dict:
    """The memo of ``detector`` with the project's ``phrases`` (all started afresh when full)."""
    if len(_VERDICTS) >= 256 or sum(map(len, _VERDICTS.values())) >= VERDICTS_MAX:
        _VERDICTS.clear()
    return _VERDICTS.setdefault((detector, phrases), {})


def clear_memos() -> None:
    _VERDICTS.clear()
