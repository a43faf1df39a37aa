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
# memos (each memo dropped whole when full) and cleared with them (``rephrase_model.clear_memos``).
_VERDICTS: dict[tuple, dict] = {}
VERDICTS_MAX = 20_000
UNSEEN = object()  # a memo's "not decided yet" (None is a verdict: nothing fired)


def verdicts(detector: str, phrases: tuple = ()) -> dict:
    """The memo of ``detector`` with the project's ``phrases`` (started afresh when full)."""
    key = (detector, phrases)
    memo = _VERDICTS.get(key)
    if memo is None or len(memo) >= VERDICTS_MAX:
        if len(_VERDICTS) >= 256:  # many projects' phrase lists: start over
            _VERDICTS.clear()
        memo = _VERDICTS[key] = {}
    return memo


def clear_memos() -> None:
    _VERDICTS.clear()
