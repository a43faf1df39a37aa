"""The rephrase model: a logistic regression over ``detectors.rephrase.pair_features``.

Trained on the development part of the hand-labelled corpus (``bench/corpus/detection``; the
held-out part is never seen) by ``manage.py train_detectors`` (``apps.detection.training``), and shipped as a data file,
``data/rephrase_model.json``: per variant the feature names, the standardisation (mean, scale),
the coefficients and intercept, and the figures it reached on the development part, with the
corpus's hash. Two variants, one file: ``semantic`` (with the semantic cosine of
``apps.detection.semantic``) and ``lexical`` (trained without it), which runs when the semantic
view is off or not installed — lower figures rather than a feature filled with a made-up value.

Training adds contrast pairs (another session's question), so each variant's logit is
Platt-calibrated on the real pairs' out-of-fold logits and the calibration folded into its
coefficients: the signal's value is the probability that a real pair is a rephrase, and the
threshold on the Detectors tab (``min_probability``) is one. The file is read once per process,
on first use.

Speed: a pass scores every candidate pair's cheap features first, then the lexical ones, then
the semantic cosine; a pair that cannot reach the threshold even at the most favourable values of
the features not yet computed is decided there (``score_pairs``), exactly as the full model would.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apps.detection import semantic
from apps.detection.detectors.rephrase import CHEAP, FEATURES, SEMANTIC_FEATURE, cheap_features, lexical_features

MODEL_PATH = Path(__file__).resolve().parent.parent / "data" / "rephrase_model.json"


@dataclass(frozen=True)
class Variant:  # not slotted: ``weights`` is cached on the instance
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @property
    def uses_semantic(self) -> bool:
        return self.features[-1] == SEMANTIC_FEATURE

    def logits(self, matrix: np.ndarray) -> np.ndarray:
        return ((matrix - self.mean) / self.scale) @ self.coef + self.intercept

    @functools.cached_property
    def weights(self) -> tuple[np.ndarray, float]:
        """The logit as ``features @ weights + offset`` (the standardisation folded in)."""
        weights = self.coef / self.scale
        return weights, float(self.intercept - weights @ self.mean)

    @classmethod
    def from_json(cls, data: dict) -> Variant:
        return cls(
            features=tuple(data["features"]), mean=np.array(data["mean"]), scale=np.array(data["scale"]),
            coef=np.array(data["coef"]), intercept=float(data["intercept"]),
        )


@dataclass(frozen=True)
class RephraseModel:
    semantic: Variant | None
    lexical: Variant
    data: dict  # the file's content (figures, hash, threshold picked on the development part)

    def variant(self) -> Variant:
        return self.semantic if self.semantic is not None and semantic.available() else self.lexical


def model_from_json(data: dict) -> RephraseModel:
    variants = data["variants"]
    return RephraseModel(
        semantic=Variant.from_json(variants["semantic"]) if "semantic" in variants else None,
        lexical=Variant.from_json(variants["lexical"]), data=data,
    )


@functools.cache
def loaded() -> RephraseModel:
    """The shipped model, read once per process."""
    return model_from_json(json.loads(MODEL_PATH.read_text(encoding="utf-8")))


def clear_memos() -> None:
    """Forget every analysed text of the pass's memos (similarity, rephrase texts, embeddings, the
    text detectors' verdicts): benchmarks time a first pass as a new worker process runs it."""
    from apps.detection import similarity
    from apps.detection.detectors import rephrase, verdicts

    similarity.clear_memos()
    rephrase.clear_memos()
    semantic.clear_memo()
    verdicts.clear_memos()


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _explain(values: np.ndarray, cue: tuple[str, str], semantic_cosine: float | None, probability: float) -> str:
    """Why the pair was flagged, in a reviewer's words (the features that carry the decision)."""
    f = dict(zip(FEATURES, values.tolist()))
    parts = []
    if cue[0]:
        parts.append(f"repair cue '{cue[0]}'")
    if cue[1]:
        parts.append(f"follow-up cue '{cue[1]}'")
    parts.append(f"word similarity {f['word_cosine']:.2f}")
    if semantic_cosine is not None:
        parts.append(f"semantic {semantic_cosine:.2f}")
    parts.append(f"different number/id/name: {'yes' if f['entity_differs'] else 'no'}")
    if f["answer_failed"]:
        parts.append("first answer punted or failed")
    parts.append(f"answer covered the question {f['answer_overlap']:.0%}")
    parts.append(f"probability {probability:.2f}")
    return "; ".join(parts)


def score_pairs(groups, *, punted: set, min_probability: float, model: RephraseModel | None = None):
    """(turn, next turn, signal value) for each pair at or above ``min_probability``.

    Exactly the variant's decision, in stages: every feature lies in a known range ([0, 1]; the
    cheap ones are computed first), so a pair whose logit cannot reach the threshold even at the
    most favourable value of the features not yet computed is decided there, without analysing
    its texts (the lexical stage) or embedding its questions (the semantic stage).
    """
    flat = [pair for group in groups for pair in group]
    if not flat:
        return []
    model = model or loaded()
    variant = model.variant()
    weights, offset = variant.weights
    cut = _logit(min_probability) - 1e-9  # a feature's float rounding never flips a decision
    matrix, cues = cheap_features(flat, punted=punted)
    lexical = weights[CHEAP:len(FEATURES)]
    semantic_weight = float(weights[-1]) if variant.uses_semantic else 0.0
    best_rest = float(np.maximum(lexical, 0.0).sum()) + max(semantic_weight, 0.0)
    partial = offset + matrix[:, :CHEAP] @ weights[:CHEAP]
    rows = np.flatnonzero(partial + best_rest >= cut)
    logits = np.full(len(flat), -np.inf)
    cosines = None
    if len(rows):
        lexical_features(groups, matrix, None if len(rows) == len(flat) else rows)
        partial = offset + matrix[rows] @ weights[:len(FEATURES)]
        if variant.uses_semantic:
            cosines = np.zeros(len(flat), dtype=np.float64)
            rows = rows[partial + max(semantic_weight, 0.0) >= cut]
            partial = offset + matrix[rows] @ weights[:len(FEATURES)]
            if len(rows):
                cosines[rows] = semantic.cosines([(flat[i][0].question, flat[i][1].question) for i in rows])
            partial = partial + semantic_weight * cosines[rows]
        logits[rows] = partial
    out = []
    for i in np.flatnonzero(logits >= cut).tolist():
        a, b = flat[i]
        probability = 1.0 / (1.0 + math.exp(-float(logits[i])))
        if probability < min_probability:
            continue
        explain = _explain(matrix[i], cues[i], None if cosines is None else float(cosines[i]), probability)
        out.append((a, b, {"probability": round(probability, 3), "next_turn_id": str(b.id), "explain": explain}))
    return out
