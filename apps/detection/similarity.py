"""Text similarity for rephrase and recurrence, behind one small interface.

The default backend is offline and dependency-light: TF-IDF as scikit-learn defines it (the
same analyzers, sublinear TF, smoothed IDF) over word uni/bigrams and character 3–5-grams
(robust to typos and inflection), blended with rapidfuzz's token-set ratio (robust to word
order). No model is downloaded at run time. An embedding backend only has
to implement ``pair_scores``.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise
from math import log, sqrt
from typing import Protocol

from rapidfuzz import fuzz


class Similarity(Protocol):
    def pair_scores(self, pairs: list[tuple[str, str]]) -> list[float]:
        """Similarity in [0, 1] for each (a, b) pair, computed as one batch."""


# The features of scikit-learn's TF-IDF analyzers, as plain functions (tests/detection check they
# equal ``CountVectorizer(...).build_analyzer()``): the text lowercased; words as \w+ uni- and
# bigrams; character 3–5-grams of each whitespace-separated word padded with one space (a word
# shorter than n counts once, whole). Nothing is fitted, stored or downloaded.
_TOKEN = re.compile(r"(?u)\b\w+\b")


def word_features(text: str) -> list[str]:
    tokens = _TOKEN.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in pairwise(tokens)]


def char_features(text: str) -> list[str]:
    out: list[str] = []
    for word in text.lower().split():
        padded = f" {word} "
        size = len(padded)
        for n in (3, 4, 5):
            if size <= n:
                out.append(padded)
                break
            out += [padded[i:i + n] for i in range(size - n + 1)]
    return out


_FEATURES: dict[str, tuple] = {}  # text → (word TFs, Σ TF², char TFs, Σ TF²); a per-process memo
_FEATURES_MAX = 20_000


def _sublinear(features: list[str]) -> tuple[dict, float]:
    frequencies = {feature: 1.0 + log(tf) if tf > 1 else 1.0 for feature, tf in Counter(features).items()}
    return frequencies, sum([tf * tf for tf in frequencies.values()])


def _features(text: str) -> tuple:
    """Sublinear term frequencies (1 + ln tf) of ``text``'s word and character features and their
    sums of squares, memoised: a session is re-examined whenever a turn lands and its earlier
    questions come back each time."""
    found = _FEATURES.get(text)
    if found is None:
        if len(_FEATURES) >= _FEATURES_MAX:
            _FEATURES.clear()
        found = _FEATURES[text] = (*_sublinear(word_features(text)), *_sublinear(char_features(text)))
    return found


def _cosines(texts: list[tuple[dict, float]], left: list[int], right: list[int]) -> list[float]:
    """Cosine of TF-IDF vectors ``left[i]``/``right[i]``: the sublinear TFs times scikit-learn's
    smoothed IDF, ln((1 + n) / (1 + df)) + 1, fitted on the ``texts`` given (the batch).

    Only features in two or more texts need their own IDF; every other one has the df = 1 weight,
    so a norm is that weight times the text's Σ TF² corrected for its shared features, and a dot
    product runs over the two texts' common features. The per-feature work is set operations.
    """
    count = len(texts)
    squared_idf = [(log((1 + count) / (1 + df)) + 1.0) ** 2 for df in range(count + 1)]
    keys = [frequencies.keys() for frequencies, _ in texts]
    document_frequency: Counter = Counter()
    for k in keys:
        document_frequency.update(k)
    if count <= 8:  # a session's few texts: the shared features by pairwise intersections
        common = set().union(*(keys[i] & keys[j] for i in range(count) for j in range(i + 1, count)))
        shared = {feature: squared_idf[document_frequency[feature]] for feature in common}
    else:
        shared = {feature: squared_idf[df] for feature, df in document_frequency.items() if df > 1}
    single = squared_idf[1]
    norms: dict[int, float] = {}

    def norm(number: int) -> float:
        found = norms.get(number)
        if found is None:
            frequencies, total = texts[number]
            mine = keys[number] & shared.keys()
            own = sum([frequencies[f] * frequencies[f] for f in mine])
            weighted = sum([frequencies[f] * frequencies[f] * shared[f] for f in mine])
            found = norms[number] = sqrt(max(0.0, single * (total - own) + weighted))
        return found

    cosines = []
    for a, b in zip(left, right):
        na, nb = norm(a), norm(b)
        if not na or not nb:
            cosines.append(0.0)
            continue
        fa, fb = texts[a][0], texts[b][0]
        if a == b:  # a text paired with itself: its features have df = 1
            cosines.append(1.0)
            continue
        cosines.append(sum([fa[f] * fb[f] * shared[f] for f in keys[a] & keys[b]]) / (na * nb))
    return cosines


class TfidfFuzzySimilarity:
    """0.4 × word TF-IDF cosine + 0.35 × char TF-IDF cosine + 0.25 × rapidfuzz token-set ratio.

    IDF is fitted on the texts of the batch itself (a whole session or a sweep chunk), which
    down-weights words every message shares ("how", "my") without any stored vocabulary.
    rapidfuzz runs first on every pair (C++, microseconds); a pair it scores below
    ``prefilter`` cannot reach a useful blend and skips the TF-IDF stage (its score is the
    fuzzy part alone). Each distinct text is analysed once per process (``_features``); the
    weighting and the cosines are plain dict arithmetic, which beats scipy's per-call overhead
    on the few pairs of a session and keeps pace on a sweep's hundreds.
    """

    def __init__(self, prefilter: float = 0.4):
        self.prefilter = prefilter

    def pair_scores(self, pairs: list[tuple[str, str]]) -> list[float]:
        if not pairs:
            return []
        fuzzy = [fuzz.token_set_ratio(a, b, processor=str.lower) / 100.0 for a, b in pairs]
        scores = [0.25 * value for value in fuzzy]
        kept = [i for i, value in enumerate(fuzzy) if value >= self.prefilter]
        if not kept:
            return scores
        index: dict[str, int] = {}
        for i in kept:
            for text in pairs[i]:
                index.setdefault(text, len(index))
        features = [_features(text) for text in index]
        left = [index[pairs[i][0]] for i in kept]
        right = [index[pairs[i][1]] for i in kept]
        words = _cosines([(f[0], f[1]) for f in features], left, right)
        chars = _cosines([(f[2], f[3]) for f in features], left, right)
        for i, word, char in zip(kept, words, chars):
            scores[i] += 0.4 * word + 0.35 * char
        return [min(1.0, max(0.0, score)) for score in scores]


DEFAULT_SIMILARITY: Similarity = TfidfFuzzySimilarity()
