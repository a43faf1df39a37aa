"""Text similarity for rephrase and recurrence, behind one small interface.

The default backend is offline and dependency-light: scikit-learn TF-IDF over word uni/bigrams
and character 3–5-grams (robust to typos and inflection), blended with rapidfuzz's token-set
ratio (robust to word order). No model is downloaded at run time. An embedding backend only has
to implement ``pair_scores``.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
from rapidfuzz import fuzz
from sklearn.feature_extraction.text import HashingVectorizer


class Similarity(Protocol):
    def pair_scores(self, pairs: list[tuple[str, str]]) -> list[float]:
        """Similarity in [0, 1] for each (a, b) pair, computed as one batch."""


# Stateless (hashing trick): nothing to fit or store, and no per-call vocabulary building, which
# made TfidfVectorizer cost ~5 ms per small batch. IDF is applied by ``_pair_cosines`` over the batch.
_WORDS = HashingVectorizer(
    ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b", alternate_sign=False, norm=None, n_features=2**20
)
_CHARS = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), alternate_sign=False, norm=None, n_features=2**20)


def _pair_cosines(counts, left: list[int], right: list[int]) -> list[float]:
    """Cosine of TF-IDF rows ``left[i]``/``right[i]``: sublinear TF × scikit-learn's smoothed IDF
    fitted on the rows given. Works on the CSR arrays directly: scipy's per-operation overhead
    dominated for the small batches a per-session task hands over."""
    counts = counts.tocsr()
    if counts.nnz == 0:
        return [0.0] * len(left)
    data = 1.0 + np.log(counts.data.astype(np.float64))
    columns, inverse = np.unique(counts.indices, return_inverse=True)
    document_frequency = np.bincount(inverse, minlength=len(columns))
    data *= (np.log((1 + counts.shape[0]) / (1 + document_frequency)) + 1.0)[inverse]
    indptr, indices, values = counts.indptr.tolist(), counts.indices.tolist(), data.tolist()
    rows: dict[int, tuple[dict, float]] = {}

    def row(number: int):
        if number not in rows:
            start, end = indptr[number], indptr[number + 1]
            weights = dict(zip(indices[start:end], values[start:end]))
            rows[number] = (weights, math.sqrt(sum(w * w for w in weights.values())))
        return rows[number]

    cosines = []
    for a, b in zip(left, right):
        (wa, na), (wb, nb) = row(a), row(b)
        if not na or not nb:
            cosines.append(0.0)
            continue
        cosines.append(sum([wa[k] * wb[k] for k in wa.keys() & wb.keys()]) / (na * nb))
    return cosines


class TfidfFuzzySimilarity:
    """0.4 × word TF-IDF cosine + 0.35 × char TF-IDF cosine + 0.25 × rapidfuzz token-set ratio.

    IDF is fitted on the texts of the batch itself (a whole session or a sweep chunk), which
    down-weights words every message shares ("how", "my") without any stored vocabulary.
    rapidfuzz runs first on every pair (C++, microseconds); a pair it scores below
    ``prefilter`` cannot reach a useful blend and skips the TF-IDF stage (its score is the
    fuzzy part alone). Each distinct text is vectorised once.
    """

    def __init__(self, prefilter: float = 0.4):
        self.prefilter = prefilter

    def pair_scores(self, pairs: list[tuple[str, str]]) -> list[float]:
        if not pairs:
            return []
        fuzzy = np.array([fuzz.token_set_ratio(a, b, processor=str.lower) / 100.0 for a, b in pairs])
        scores = 0.25 * fuzzy
        kept = [i for i, value in enumerate(fuzzy) if value >= self.prefilter]
        if not kept:
            return list(scores)
        index: dict[str, int] = {}
        for i in kept:
            for text in pairs[i]:
                index.setdefault(text, len(index))
        texts = list(index)
        left = [index[pairs[i][0]] for i in kept]
        right = [index[pairs[i][1]] for i in kept]
        blended = np.zeros(len(kept))
        for weight, vectorizer in ((0.4, _WORDS), (0.35, _CHARS)):
            blended += weight * np.array(_pair_cosines(vectorizer.transform(texts), left, right))
        scores[kept] += blended
        return list(np.clip(scores, 0.0, 1.0))


DEFAULT_SIMILARITY: Similarity = TfidfFuzzySimilarity()
