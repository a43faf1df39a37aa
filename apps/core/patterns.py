"""Customer regular expressions, compiled once and guarded against catastrophic backtracking.

Patterns typed by customers (redaction's custom recognisers, experiments' regex scorers) run on
text we do not control, so a pattern such as ``(a|aa)+$`` could hold a worker for minutes. They
are compiled with the ``regex`` package, whose searches take a ``timeout``, and probed at save
time: the pattern runs, with a short timeout, on long runs of the characters it names (and a few
common ones) followed by a mismatch — the inputs on which nested quantifiers backtrack
exponentially. One that times out is refused (``pattern_too_slow``); callers still pass a
timeout at run time, since no probe set is complete.
"""

from __future__ import annotations

import regex

PROBE_TIMEOUT_SECONDS = 0.05  # per probe at save


class PatternError(ValueError):
    """A customer pattern refused; ``code`` is the stable API error code."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


def _probes(pattern: str) -> list[str]:
    named = [c for c in dict.fromkeys(pattern) if c.isalnum()][:8]
    chars = list(dict.fromkeys([*named, "a", "1", " ", "x"]))
    probes = []
    for char in chars:
        probes.append(char * 40 + "!")
        probes.append(char * 2000 + "\x01")
    probes.append(" ".join(["ab1"] * 400) + "!")
    return probes


def compile_pattern(pattern, *, max_length: int, flags: int = 0) -> regex.Pattern:
    """The compiled pattern, or ``PatternError`` with code ``pattern_too_long``,
    ``pattern_invalid`` or ``pattern_too_slow``."""
    if not isinstance(pattern, str) or not pattern or len(pattern) > max_length:
        raise PatternError(f"A pattern is 1 to {max_length} characters.", code="pattern_too_long")
    try:
        compiled = regex.compile(pattern, flags | regex.V0)
    except (regex.error, ValueError, OverflowError, RecursionError) as error:
        raise PatternError(f"The pattern does not compile: {error}.", code="pattern_invalid") from None
    for probe in _probes(pattern):
        try:
            compiled.search(probe, timeout=PROBE_TIMEOUT_SECONDS)
        except TimeoutError:
            raise PatternError(
                "The pattern backtracks catastrophically (it timed out on a probe text); rewrite nested quantifiers.",
                code="pattern_too_slow",
            ) from None
    return compiled
