"""Retrieval that found nothing, or nothing relevant enough."""

from __future__ import annotations

from apps.detection.detectors.base import TurnData, as_number

_SCORE_KEYS = ("score", "similarity", "relevance")


def _document_score(document) -> float | None:
    if isinstance(document, dict):
        for key in _SCORE_KEYS:
            value = document.get(key)
            if value is not None and (score := as_number(value)) is not None:
                return score
    return None


def knowledge_gap(turn: TurnData, min_score: float) -> dict | None:
    """Retrieval ran and returned nothing, or only documents scored below ``min_score``.

    A turn that never retrieved (no retrieval step, nothing in ``retrieved``) is not a gap.
    """
    retrieved = turn.retrieved
    if not retrieved:
        return {"reason": "empty"} if turn.retrieval_attempted else None
    best = None
    for document in retrieved:
        score = document.get("score") if type(document) is dict else None
        if type(score) is not float:  # the JSON case first; anything else the general way
            score = _document_score(document)
        if score is None:
            return None  # a document without a score: no verdict
        if best is None or score > best:
            best = score
    if best < min_score:
        return {"reason": "low_score", "max_score": best, "documents": len(retrieved)}
    return None
