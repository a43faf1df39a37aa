"""A reported confidence below the project's threshold."""

from __future__ import annotations

from apps.detection.detectors.base import TurnData, as_number


def low_confidence(turn: TurnData, threshold: float) -> dict | None:
    """A reported ``confidence`` (signal first, then metadata) strictly below ``threshold``."""
    reported = as_number(turn.signals.get("confidence")) if turn.signals else None
    if reported is None:
        reported = as_number(turn.metadata.get("confidence")) if isinstance(turn.metadata, dict) else None
    if reported is not None and reported < threshold:
        return {"confidence": reported, "threshold": threshold}
    return None
