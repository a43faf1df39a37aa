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
from sklearn.feature_extraction.text import TfidfVectorizer


class Similarity(Protocol):
    def pair_scores(self, pairs: list[tuple[str, str]]) -> list[float]:
        """Similarity in [0, 1] for each (a, b) pair, computed as one batch."""


def _rowwise_cosine(matrix, count: int) -> np.ndarray:
    # Rows are l2-normalised by TfidfVectorizer: the cosine is the row-wise dot product.
    left, right = matrix[:count], matrix[count:]
    return np.asarray(left.multiply(right).sum(axis=1)).ravel()


class TfidfFuzzySimilarity:
    """0.4 × word TF-IDF cosine + 0.35 × char TF-IDF cosine + 0.25 × rapidfuzz token-set ratio.

    IDF is fitted on the texts of the batch itself (a whole session or a sweep chunk), which
    down-weights words every message shares ("how", "my") without any stored vocabulary.
    """

    def pair_scores(self, pairs: list[tuple[str, str]]) -> list[float]:
        if not pairs:
            return []
        texts = [a for a, _ in pairs] + [b for _, b in pairs]
        count = len(pairs)
        words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
        try:
            word_scores = _rowwise_cosine(words.fit_transform(texts), count)
        except ValueError:  # every text empty or without a word
            word_scores = np.zeros(count)
        try:
            char_scores = _rowwise_cosine(chars.fit_transform(texts), count)
        except ValueError:
            char_scores = np.zeros(count)
        fuzzy = np.array([fuzz.token_set_ratio(a, b, processor=str.lower) / 100.0 for a, b in pairs])
        return list(np.clip(0.4 * word_scores + 0.35 * char_scores + 0.25 * fuzzy, 0.0, 1.0))


DEFAULT_SIMILARITY: Similarity = TfidfFuzzySimilarity()
