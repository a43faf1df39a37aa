"""The rephrase model: a logistic regression over ``detectors.rephrase.pair_features``.

Trained on the development part of the hand-labelled corpus (``bench/corpus/detection``; the
held-out part is never seen) by ``manage.py train_detectors``, and shipped as a data file,
``data/rephrase_model.json``: per variant the feature names, the standardisation (mean, scale),
the coefficients and intercept, and the figures it reached on the development part, with the
corpus's hash. Two variants, one file: ``semantic`` (with the semantic cosine of
``apps.detection.semantic``) and ``lexical`` (trained without it), which runs when the semantic
view is off or not installed — lower figures rather than a feature filled with a made-up value.

Logistic regression is calibrated by construction, so the signal's value carries a probability
and the threshold on the Detectors tab (``min_probability``) is one. The file is read once per
process, on first use.

Speed: a pass scores every candidate pair's cheap features first; the semantic cosine only moves
a pair's logit by at most its coefficient, so a pair that cannot reach the threshold even at
the most favourable cosine is decided without embedding its texts (``score_pairs``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apps.detection import semantic
from apps.detection.detectors.rephrase import FEATURES, SEMANTIC_FEATURE, pair_features

MODEL_PATH = Path(__file__).resolve().parent / "data" / "rephrase_model.json"
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
THRESHOLD_GRID = tuple(round(0.2 + 0.05 * i, 2) for i in range(13))  # 0.20 … 0.80


@dataclass(frozen=True)
class Variant:
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
    """Forget every analysed text of the pass's memos (similarity, rephrase texts, embeddings):
    benchmarks time a first pass as a new worker process runs it."""
    from apps.detection import similarity
    from apps.detection.detectors import rephrase

    similarity.clear_memos()
    rephrase._TEXTS.clear()
    semantic.clear_memo()


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
    parts.append(f"similarity {0.4 * f['word_cosine'] + 0.35 * f['char_cosine'] + 0.25 * f['token_set_ratio']:.2f}")
    if semantic_cosine is not None:
        parts.append(f"semantic {semantic_cosine:.2f}")
    parts.append(f"different number/id: {'yes' if f['number_differs'] else 'no'}")
    if f["name_differs"]:
        parts.append("different name: yes")
    if f["answer_failed"]:
        parts.append("first answer punted or failed")
    parts.append(f"answer covered the question {f['answer_overlap']:.0%}")
    parts.append(f"probability {probability:.2f}")
    return "; ".join(parts)


def score_pairs(groups, *, punted: set, window_seconds: int, min_probability: float, model: RephraseModel | None = None):
    """(turn, next turn, signal value) for each pair at or above ``min_probability``."""
    flat = [pair for group in groups for pair in group]
    if not flat:
        return []
    model = model or loaded()
    variant = model.variant()
    matrix, cues = pair_features(groups, punted=punted, window_seconds=window_seconds)
    cut = _logit(min_probability)
    cosines = None
    if variant.uses_semantic:
        lexical = Variant(variant.features[:-1], variant.mean[:-1], variant.scale[:-1], variant.coef[:-1], variant.intercept)
        base = lexical.logits(matrix)
        weight, mean = variant.coef[-1] / variant.scale[-1], variant.mean[-1]
        best = base + max(weight * (0.0 - mean), weight * (1.0 - mean))
        needed = np.flatnonzero(best >= cut)
        cosines = np.zeros(len(flat), dtype=np.float64)
        if len(needed):
            cosines[needed] = semantic.cosines([(flat[i][0].question, flat[i][1].question) for i in needed])
        logits = np.where(best >= cut, base + weight * (cosines - mean), -np.inf)
    else:
        logits = variant.logits(matrix)
    out = []
    for i in np.flatnonzero(logits >= cut).tolist():
        a, b = flat[i]
        probability = 1.0 / (1.0 + math.exp(-float(logits[i])))
        explain = _explain(matrix[i], cues[i], None if cosines is None else float(cosines[i]), probability)
        out.append((a, b, {"probability": round(probability, 3), "next_turn_id": str(b.id), "explain": explain}))
    return out


# --- training (``manage.py train_detectors``) -------------------------------------------------


def corpus_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(directory).glob("*.jsonl")):
        if not path.name.startswith("realistic_"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def training_rows(sessions, config) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features (lexical), semantic cosines (zeros without the view), labels, session numbers and
    a "real pair" mask of every training pair, built as a worker builds them: the candidates,
    the punt decisions of a real detector pass and ``pair_features``.

    Besides the real pairs, each first turn is also paired with the next question of another
    session (a rotation, so deterministic): by construction not a rephrase. The corpus's
    rephrases all follow unhelpful answers, so without these a model learns "short answer ⇒
    rephrase" and flags a new topic after any weak answer; these pairs teach it that the second
    question must ask the same thing. Only real pairs are scored when choosing C and the threshold.
    """
    from msgspec.structs import replace

    from apps.detection.config import DetectorConfig
    from apps.detection.detectors.rephrase import rephrase_candidates
    from apps.detection.detectors.runner import run_detectors

    window = config.p("rephrase")["window_seconds"]
    punts = DetectorConfig(enabled=frozenset({"agent_punted"}), params=config.params)
    real, labels, owners, punted = [], [], [], set()
    for number, session in enumerate(sessions):
        turns = [t.data for t in session.turns]
        now = turns[-1].created_at + dt.timedelta(days=1)
        punted |= {d.turn_id for d in run_detectors([turns], punts, now=now).detections}
        pairs = rephrase_candidates(turns, window)
        if pairs:
            real.append((number, pairs))
            by_id = {t.data.id: t for t in session.turns}
            labels.append(["rephrase" in by_id[a.id].labels for a, _ in pairs])
    seconds = [b for _, pairs in real for _, b in pairs]
    groups, y, mask, at = [], [], [], 0
    for (number, pairs), truth in zip(real, labels):
        groups.append(pairs)
        y += truth
        mask += [True] * len(pairs)
        owners += [number] * len(pairs)
        swapped = []
        for a, b in pairs:
            other = seconds[(at + len(seconds) // 2) % len(seconds)]
            swapped.append((a, replace(other, created_at=b.created_at)))
            at += 1
        groups.append(swapped)
        y += [False] * len(swapped)
        mask += [False] * len(swapped)
        owners += [number] * len(swapped)
    matrix, _ = pair_features(groups, punted=punted, window_seconds=window)
    flat = [pair for group in groups for pair in group]
    cosines = (semantic.cosines([(a.question, b.question) for a, b in flat]) if semantic.available()
               else np.zeros(len(flat)))
    return matrix, cosines, np.array(y, dtype=bool), np.array(owners), np.array(mask, dtype=bool)


def _f1(y, predicted) -> float:
    tp = int((y & predicted).sum())
    fp, fn = int((~y & predicted).sum()), int((y & ~predicted).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _fit_variant(matrix, y, owners, real, names) -> tuple[dict, dict]:
    """The C and threshold with the best 5-fold (by session) cross-validated F1 on the real
    pairs, then the fit on every training pair; returns the variant's JSON and its
    cross-validated figures."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import StandardScaler

    folds = list(GroupKFold(n_splits=5).split(matrix, y, owners))
    best = None
    for c in C_GRID:
        probabilities = np.zeros(len(y))
        for train, test in folds:
            scaler = StandardScaler().fit(matrix[train])
            fitted = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(matrix[train]), y[train])
            probabilities[test] = fitted.predict_proba(scaler.transform(matrix[test]))[:, 1]
        for threshold in THRESHOLD_GRID:
            score = _f1(y[real], probabilities[real] >= threshold)
            if best is None or score > best[0] + 1e-9:
                best = (score, c, threshold)
    score, c, threshold = best
    scaler = StandardScaler().fit(matrix)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    fitted = LogisticRegression(C=c, max_iter=2000).fit((matrix - scaler.mean_) / scale, y)
    variant = {
        "features": list(names), "mean": scaler.mean_.round(6).tolist(), "scale": scale.round(6).tolist(),
        "coef": fitted.coef_[0].round(6).tolist(), "intercept": round(float(fitted.intercept_[0]), 6), "C": c,
    }
    return variant, {"f1": round(score, 4), "C": c, "threshold": threshold}


def fit(sessions, config, *, directory: Path) -> dict:
    """The model file's content, fitted on the development sessions of ``sessions``."""
    dev = [s for s in sessions if s.split == "dev"]
    matrix, cosines, y, owners, real = training_rows(dev, config)
    variants, cross_validated = {}, {}
    variants["lexical"], cross_validated["lexical"] = _fit_variant(matrix, y, owners, real, FEATURES)
    if semantic.available():
        variants["semantic"], cross_validated["semantic"] = _fit_variant(
            np.column_stack([matrix, cosines]), y, owners, real, (*FEATURES, SEMANTIC_FEATURE)
        )
    threshold = cross_validated.get("semantic", cross_validated["lexical"])["threshold"]
    return {
        "model": "logistic regression over detectors.rephrase.pair_features (scikit-learn, standardised features)",
        "corpus_sha256": corpus_hash(directory), "trained_on": "development part",
        "pairs": int(real.sum()), "contrast_pairs": int((~real).sum()), "positives": int(y.sum()), "min_probability": threshold,
        "variants": variants, "cross_validated": cross_validated,
    }
