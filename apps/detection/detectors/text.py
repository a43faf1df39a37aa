"""Text folding for the exact prefilters that spare most turns a regex (``escalation``, ``agent_punted``)."""

from __future__ import annotations

# What ``re.IGNORECASE`` equates with an ASCII letter beyond ``str.lower``: dotless ı and İ with
# i, long ſ with s (``str.lower`` already maps the Kelvin sign to k).
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s"})


def folded(text: str) -> str:
    """``text`` lowercased so that an ASCII needle ``re.IGNORECASE`` would find in it is a plain
    substring: the prefilters test needles with ``in`` (C speed) before running a regex."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    # ``str.lower`` turns İ into i + U+0307 and keeps ı and ſ: translate only a text holding one.
    if "\u0307" in lowered or "\u0131" in lowered or "\u017f" in lowered:
        return text.translate(_FOLD).lower()
    return lowered
