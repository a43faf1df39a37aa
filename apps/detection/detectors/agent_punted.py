"""The answer says it cannot help, in one of the project's phrases."""

from __future__ import annotations

import re
from functools import lru_cache

from apps.detection.detectors.text import folded


@lru_cache(maxsize=256)
def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern | None:
    variants = []
    for phrase in phrases:
        escaped = re.escape(phrase).replace("'", "['’]")  # "don't" also matches a curly apostrophe
        variants.append(escaped)
    if not variants:
        return None
    # The lookahead on the phrases' first letters rejects most positions before trying each
    # alternative (3x faster on typical answers).
    first = re.escape("".join(sorted({p[0] for p in phrases if p})))
    alternatives = "|".join(sorted(variants, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?=[{first}])(?:{alternatives})(?!\w)", re.IGNORECASE)


_ASCII_RUN = re.compile(r"[\x00-\x7f]+")


@lru_cache(maxsize=256)
def phrase_search(phrases: tuple[str, ...]):
    """``_phrase_pattern(phrases).search``, or None without phrases, behind an exact prefilter.

    Each phrase contributes a needle: its longest ASCII run without an apostrophe (the one
    character the pattern widens), lowercased. An answer that holds none of the needles (after
    ``folded``) cannot match, so the regex (about 4 µs on a typical answer, scanning every
    position) runs only on the few that do. A needle that holds another is dropped; a phrase
    without a usable needle (two ASCII letters or fewer) turns the prefilter off.
    """
    pattern = _phrase_pattern(phrases)
    if pattern is None:
        return None
    needles = []
    for phrase in phrases:
        runs = [run.strip() for piece in phrase.split("'") for run in _ASCII_RUN.findall(piece)]
        needle = max(runs, key=len, default="").lower()
        if len(needle) < 3:
            return pattern.search
        needles.append(needle)
    needles = tuple(n for n in set(needles) if not any(other != n and other in n for other in needles))
    search = pattern.search

    def prefiltered(answer: str):
        lowered = folded(answer)
        for needle in needles:
            if needle in lowered:
                return search(answer)
        return None

    return prefiltered


def agent_punted(answer: str, phrases) -> dict | None:
    """The answer says it cannot help; ``phrases`` is the project's list (whole words, any case)."""
    search = phrase_search(tuple(phrases))
    match = search(answer) if search else None
    return {"phrase": match.group(0).lower()} if match else None
