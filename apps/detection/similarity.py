"""Text similarity for rephrase and recurrence, behind one small interface.

The default backend is offline and dependency-light: scikit-learn TF-IDF over word uni/bigrams
and character 3–5-grams (robust to typos and inflection), blended with rapidfuzz's token-set
ratio (robust to word order). No model is downloaded at run time. An embedding backend only has
to implement ``pair_scores``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from rapidfuzz import fuzz
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize


class Similarity(Protocol):
    def pair_scores(self, pairs: list[tuple[str, str]]) -> list[float]:
        """Similarity in [0, 1] for each (a, b) pair, computed as one batch."""


# Stateless (hashing trick): nothing to fit or store, and no per-call vocabulary building, which
# made TfidfVectorizer cost ~5 ms per small batch. IDF is applied by ``_tfidf`` over the batch.
_WORDS = HashingVectorizer(
    ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b", alternate_sign=False, norm=None, n_features=2**20
)
_CHARS = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), alternate_sign=False, norm=None, n_features=2**20)


def _tfidf(counts):
    """Sublinear TF × smoothed IDF (scikit-learn's formula, fitted on the rows given), l2 rows."""
    counts = counts.tocsr()
    if counts.nnz == 0:
        return counts
    counts.data = 1.0 + np.log(counts.data)
    columns, inverse = np.unique(counts.indices, return_inverse=True)
    document_frequency = np.bincount(inverse, minlength=len(columns))
    rows = counts.shape[0]
    counts.data *= (np.log((1 + rows) / (1 + document_frequency)) + 1.0)[inverse]
    return normalize(counts, copy=False)


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
            matrix = _tfidf(vectorizer.transform(texts))
            # Rows are l2-normalised: the cosine is the row-wise dot product.
            blended += weight * np.asarray(matrix[left].multiply(matrix[right]).sum(axis=1)).ravel()
        scores[kept] += blended
        return list(np.clip(scores, 0.0, 1.0))


DEFAULT_SIMILARITY: Similarity = TfidfFuzzySimilarity()
