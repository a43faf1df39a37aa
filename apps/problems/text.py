"""Text vectors for clustering: offline, stateless, no model download.

Inputs are lower-cased, stripped of English stop words and of numbers (order ids, amounts), then
hashed into word uni/bigrams and character 3–5-grams (robust to typos and inflection), each
block with sublinear TF and L2-normalised, concatenated with equal weight: the dot product of
two vectors is the mean of their word and character cosines. Hashing keeps the vector space
fixed, so a problem's centroid stored today is comparable with turns vectorised next month.

A centroid is stored sparse and truncated to its ``CENTROID_TERMS`` heaviest features
(``{"i": [...], "w": [...]}``), which keeps a problem row small whatever its size.
"""

from __future__ import annotations

import re

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, HashingVectorizer

BLOCK = 2**18
DIMENSIONS = 2 * BLOCK
CENTROID_TERMS = 256
EMPTY_TEXT = "emptyinput"  # every turn without text shares one vector, so they group together
MAX_CHARS = 1000

_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)
_STOP = frozenset(ENGLISH_STOP_WORDS) | {"pls", "please", "hi", "hello", "thanks", "thank", "hey"}
_WORDS = HashingVectorizer(
    ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b", alternate_sign=False, norm=None, n_features=BLOCK,
    lowercase=False, dtype=np.float32,
)
_CHARS = HashingVectorizer(
    analyzer="char_wb", ngram_range=(3, 5), alternate_sign=False, norm=None, n_features=BLOCK,
    lowercase=False, dtype=np.float32,
)


def normalize_text(text: str) -> str:
    words = [w for w in _TOKEN.findall((text or "")[:MAX_CHARS].lower()) if w not in _STOP and len(w) > 1]
    return " ".join(words) or EMPTY_TEXT


def _unit_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    matrix = matrix.tocsr()
    matrix.data = np.log1p(matrix.data, dtype=np.float32)  # sublinear TF (1 + log tf, shifted: tf=1 → log 2)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.diags((1.0 / norms).astype(np.float32)) @ matrix


def vectorize(texts: list[str]) -> sp.csr_matrix:
    """Unit-length rows, one per text (``DIMENSIONS`` columns, float32)."""
    cleaned = [normalize_text(t) for t in texts]
    half = np.float32(np.sqrt(0.5))
    words = _unit_rows(_WORDS.transform(cleaned)) * half
    chars = _unit_rows(_CHARS.transform(cleaned)) * half
    return sp.hstack([words, chars], format="csr", dtype=np.float32)


def normalize_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    matrix = matrix.tocsr()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return (sp.diags((1.0 / norms).astype(np.float32)) @ matrix).tocsr()


def centroid_to_json(row) -> dict:
    """The heaviest ``CENTROID_TERMS`` features of a (summed or mean) row, unit length."""
    row = sp.csr_matrix(row)
    row.sum_duplicates()
    indices, weights = row.indices, row.data.astype(np.float64)
    keep = weights > 0
    indices, weights = indices[keep], weights[keep]
    if len(weights) > CENTROID_TERMS:
        top = np.argpartition(weights, -CENTROID_TERMS)[-CENTROID_TERMS:]
        indices, weights = indices[top], weights[top]
    norm = float(np.sqrt((weights * weights).sum())) or 1.0
    order = np.argsort(indices)
    return {"i": [int(i) for i in indices[order]], "w": [round(float(w) / norm, 6) for w in weights[order]]}


def centroid_from_json(data: dict | None) -> sp.csr_matrix:
    """A 1 × DIMENSIONS row (empty when nothing is stored)."""
    indices = list((data or {}).get("i") or [])
    weights = list((data or {}).get("w") or [])
    if len(indices) != len(weights):
        indices, weights = [], []
    return sp.csr_matrix(
        (np.asarray(weights, dtype=np.float32), np.asarray(indices, dtype=np.int32), np.asarray([0, len(indices)])),
        shape=(1, DIMENSIONS),
    )


def most_representative(texts: list[str], centroid) -> int | None:
    """Index of the text nearest the centroid (the first on ties); None for no texts."""
    if not texts:
        return None
    scores = (vectorize(texts) @ sp.csr_matrix(centroid).T).toarray().ravel()
    return int(np.argmax(scores))


def title_from(text: str, limit: int = 120) -> str:
    line = " ".join((text or "").split())
    if not line:
        return "Turns without input text"
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
