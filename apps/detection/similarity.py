"""Text similarity for rephrase and recurrence, behind one small interface.

The default backend is offline and dependency-light: TF-IDF as scikit-learn defines it (the
same analyzers, sublinear TF, smoothed IDF) over word uni/bigrams and character 3–5-grams
(robust to typos and inflection), blended with rapidfuzz's token-set ratio (robust to word
order). No model is downloaded at run time. An embedding backend only has
to implement ``pair_scores``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from itertools import chain, pairwise
from typing import Protocol

import numpy as np
from rapidfuzz import fuzz, process
from scipy import sparse


class Similarity(Protocol):
    def pair_scores(self, pairs: list[tuple[str, str]]) -> list[float]:
        """Similarity in [0, 1] for each (a, b) pair, computed as one batch."""

    # Optional: ``group_scores(groups)`` = ``[pair_scores(g) for g in groups]`` in one call;
    # ``run_detectors`` uses it when a backend has it.


# The features of scikit-learn's TF-IDF analyzers, as plain functions (tests/detection check they
# equal ``CountVectorizer(...).build_analyzer()``): the text lowercased; words as \w+ uni- and
# bigrams; character 3–5-grams of each whitespace-separated word padded with one space (a word
# shorter than n counts once, whole). Nothing is fitted, stored or downloaded.
_TOKEN = re.compile(r"(?u)\b\w+\b")


def word_features(text: str) -> list[str]:
    tokens = _TOKEN.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in pairwise(tokens)]


def _word_char_features(word: str) -> list[str]:
    padded = f" {word} "
    size = len(padded)
    out: list[str] = []
    for n in (3, 4, 5):
        if size <= n:
            out.append(padded)
            break
        out += [padded[i:i + n] for i in range(size - n + 1)]
    return out


def char_features(text: str) -> list[str]:
    out: list[str] = []
    for word in text.lower().split():
        out += _word_char_features(word)
    return out


_FEATURES: dict[str, tuple] = {}  # text → its analysed features (``_features``); a per-process memo
_VOCABULARY: dict[str, int] = {}  # feature → column number, shared by both analyzers; cleared with the memo
_WORD_COLUMNS: dict[str, list[int]] = {}  # a lowercased word → the columns of its char n-grams; cleared with the memo
_FEATURES_MAX = 20_000


def _column_numbers(features) -> list[int]:
    vocabulary = _VOCABULARY
    for feature in set(features).difference(vocabulary):  # iterates these features, not the vocabulary
        vocabulary[feature] = len(vocabulary)
    return list(map(vocabulary.__getitem__, features))


def _weighted(counts: Counter) -> tuple[np.ndarray, np.ndarray]:
    """Columns and sublinear term frequencies (1 + ln tf, as scikit-learn computes them)."""
    columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    return columns, np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts))) + 1.0


def _features(text: str) -> tuple:
    """(word columns, word TFs, char columns, char TFs) of ``text``, memoised: a session is
    re-examined whenever a turn lands and its earlier questions come back each time. The char
    n-grams are those of ``char_features``, gathered word by word from a memo of each word's
    columns (words recur far more than texts). ``_start_batch`` clears the memos and the
    vocabulary together, never in the middle of a batch (a column must mean one feature for the
    whole batch)."""
    found = _FEATURES.get(text)
    if found is None:
        lowered = text.lower()
        chars: list[int] = []
        by_word = _WORD_COLUMNS
        for word in lowered.split():
            columns = by_word.get(word)
            if columns is None:
                columns = by_word[word] = _column_numbers(_word_char_features(word))
            chars += columns
        found = _FEATURES[text] = (*_weighted(Counter(_column_numbers(word_features(text)))), *_weighted(Counter(chars)))
    return found


_PLAIN: dict[str, tuple] = {}  # text → ``_plain_features``; cleared with the memos


def _plain_features(text: str) -> tuple:
    """``_features`` as plain Python for the small-call path: for words then chars, a dict of
    column → sublinear TF and the sum of the squared TFs."""
    found = _PLAIN.get(text)
    if found is None:
        word_columns, word_tfs, char_columns, char_tfs = _features(text)
        words, chars = dict(zip(word_columns.tolist(), word_tfs.tolist())), dict(zip(char_columns.tolist(), char_tfs.tolist()))
        found = _PLAIN[text] = ((words, sum(t * t for t in words.values())), (chars, sum(t * t for t in chars.values())))
    return found


def _plain_cosines(rows: list[tuple[dict, float]], left: list[int], right: list[int]) -> list[float]:
    """``_cosines`` of one group in plain Python, for a call with a few pairs (one session),
    where numpy's and scipy's set-up costs more than the arithmetic.

    The same weights: TF × smoothed IDF fitted on the group's texts (``rows``: each text's
    column → TF dict and sum of squared TFs), L2-normalised. A column held by one text only has
    the same IDF (df = 1) in every row, so a row's norm is that IDF² × its squared TFs plus a
    correction for its columns shared with other texts; a dot product runs over the shared
    columns of the pair only. Equal to the batched path to about 1e-15 (tests/detection).
    """
    count = len(rows)
    log = math.log
    if count == 2:
        shared = dict.fromkeys(rows[0][0].keys() & rows[1][0].keys(), 2)
    else:
        shared = {column: df for column, df in Counter(chain.from_iterable(tfs for tfs, _ in rows)).items() if df > 1}
    single = log((1.0 + count) / 2.0) + 1.0
    single *= single
    squared_idf = {column: (log((1.0 + count) / (1.0 + df)) + 1.0) ** 2 for column, df in shared.items()}
    norms = []
    for tfs, squares in rows:
        total = single * squares
        for column in tfs.keys() & squared_idf.keys():
            tf = tfs[column]
            total += tf * tf * (squared_idf[column] - single)
        norms.append(math.sqrt(total) if total > 0 else 0.0)
    out = []
    for i, j in zip(left, right):
        if i == j:
            out.append(1.0 if norms[i] > 0 else 0.0)
        elif not norms[i] or not norms[j]:
            out.append(0.0)
        else:
            a, b = rows[i][0], rows[j][0]
            dot = sum(a[column] * b[column] * squared_idf[column] for column in a.keys() & b.keys())
            out.append(dot / (norms[i] * norms[j]))
    return out


_FUZZY = {}


def _fuzzy_ratios(pairs):
    memo = _FUZZY
    new = [pair for pair in dict.fromkeys(pairs) if pair not in memo]
    if new:
        ratios = process.cpdist([a.lower() for a, _ in new], [b.lower() for _, b in new], scorer=fuzz.token_set_ratio,
                                dtype=np.float64, workers=1)
        memo.update(zip(new, ratios.tolist()))
    return [memo[pair] for pair in pairs]


SMALL_CALL_ROWS = 24  # at most this many texts to weigh: the plain-Python path


def _start_batch() -> None:
    if len(_FEATURES) >= _FEATURES_MAX or len(_VOCABULARY) >= 50 * _FEATURES_MAX:
        _FEATURES.clear()
        _PLAIN.clear()
        _WORD_COLUMNS.clear()
        _VOCABULARY.clear()


def _cosines(rows: list[tuple[np.ndarray, np.ndarray]], groups: np.ndarray, sizes: np.ndarray,
             left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Cosines of TF-IDF vectors of rows ``left[i]``/``right[i]``, every group at once.

    ``rows`` are (columns, sublinear TFs) of each text of each group; ``groups[r]`` is row r's
    group and ``sizes[g]`` the number of texts in group g. A row's weights are its TFs times
    scikit-learn's smoothed IDF, ln((1 + n) / (1 + df)) + 1, fitted on its own group's texts
    (n of them; df counts the group's texts holding the feature), then L2-normalised; a cosine is
    then a sparse row-wise dot product. One vectorised pass per batch of groups instead of dict
    arithmetic per group.
    """
    count = len(rows)
    lengths = np.fromiter((len(c) for c, _ in rows), dtype=np.int64, count=count)
    pointers = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(lengths, out=pointers[1:])
    if not pointers[-1]:
        return np.zeros(len(left))
    columns = np.concatenate([c for c, _ in rows])
    frequencies = np.concatenate([f for _, f in rows])
    row_of = np.repeat(np.arange(count), lengths)
    group_of = groups[row_of]
    width = int(columns.max()) + 1
    keys = group_of * width + columns
    if len(sizes) * width < 2**31:
        keys = keys.astype(np.int32)
    order = np.argsort(keys)
    ordered = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    runs = np.diff(np.append(starts, len(ordered)))
    df = np.empty(len(ordered), dtype=np.float64)
    df[order] = np.repeat(runs, runs)
    n = sizes[group_of]
    weights = frequencies * (np.log((1.0 + n) / (1.0 + df)) + 1.0)
    norms = np.sqrt(np.bincount(row_of, weights=weights * weights, minlength=count))
    weights /= norms[row_of]
    matrix = sparse.csr_matrix((weights, columns, pointers), shape=(count, width))
    cosines = np.asarray(matrix[left].multiply(matrix[right]).sum(axis=1)).ravel()
    same = left == right  # a text paired with itself: exactly 1 (0 without features)
    cosines[same] = (norms[left[same]] > 0).astype(np.float64)
    return cosines


class TfidfFuzzySimilarity:
    """0.4 × word TF-IDF cosine + 0.35 × char TF-IDF cosine + 0.25 × rapidfuzz token-set ratio.

    IDF is fitted on the texts of one group of pairs (a session's candidates), which
    down-weights words every message shares ("how", "my") without any stored vocabulary.
    rapidfuzz runs first on every pair (C++, one call for the whole batch); a pair it scores
    below ``prefilter`` cannot reach a useful blend and skips the TF-IDF stage (its score is the
    fuzzy part alone, and its texts take no part in the IDF fit). Each distinct text is analysed
    once per process (``_features``); the weighting and the cosines of every group run as one
    vectorised numpy/scipy pass (``_cosines``).
    """

    def __init__(self, prefilter: float = 0.4):
        self.prefilter = prefilter

    def pair_scores(self, pairs: list[tuple[str, str]]) -> list[float]:
        return self.group_scores([pairs])[0]

    def group_scores(self, groups: list[list[tuple[str, str]]]) -> list[list[float]]:
        """``pair_scores`` of each group, computed together: each group's IDF is fitted on that
        group alone, so a group scores the same whatever else is in the call."""
        _start_batch()
        flat = [pair for group in groups for pair in group]
        if not flat:
            return [[] for _ in groups]
        fuzzy = _fuzzy_ratios(flat)
        fuzzy_array = np.array(fuzzy, dtype=np.float64)
        scores = None
        rows: list[str] = []
        row_groups: list[int] = []
        sizes: list[int] = []
        left: list[int] = []
        right: list[int] = []
        kept: list[int] = []
        position = 0
        for group in groups:
            index: dict[str, int] = {}
            for a, b in group:
                if fuzzy[position] / 100.0 >= self.prefilter:
                    kept.append(position)
                    for text in (a, b):
                        if text not in index:
                            index[text] = len(rows)
                            rows.append(text)
                            row_groups.append(len(sizes))
                    left.append(index[a])
                    right.append(index[b])
                position += 1
            if index:
                sizes.append(len(index))
        if not kept or len(rows) <= SMALL_CALL_ROWS:
            scores = [0.25 * (value / 100.0) for value in fuzzy]
        if kept and len(rows) <= SMALL_CALL_ROWS:
            plain = [_plain_features(text) for text in rows]
            # Each group's texts are its own rows: the IDF of a group is fitted on them alone.
            starts = [0]
            for size in sizes:
                starts.append(starts[-1] + size)
            pair = 0
            for start, end in pairwise(starts):
                group_left, group_right = [], []
                while pair < len(kept) and left[pair] < end:
                    group_left.append(left[pair] - start)
                    group_right.append(right[pair] - start)
                    pair += 1
                words = _plain_cosines([p[0] for p in plain[start:end]], group_left, group_right)
                chars = _plain_cosines([p[1] for p in plain[start:end]], group_left, group_right)
                for i, word, char in zip(kept[pair - len(group_left):pair], words, chars):
                    scores[i] += 0.4 * word + 0.35 * char
        elif kept:
            # Word rows then char rows, the char rows in groups of their own (numbered after the
            # word groups) so each analyzer's document frequencies are counted apart: one pass.
            features = [_features(text) for text in rows]
            count, group_count = len(rows), len(sizes)
            row_groups_array = np.array(row_groups, dtype=np.int64)
            left_array, right_array = np.array(left, dtype=np.int64), np.array(right, dtype=np.int64)
            cosines = _cosines(
                [(f[0], f[1]) for f in features] + [(f[2], f[3]) for f in features],
                np.concatenate([row_groups_array, row_groups_array + group_count]),
                np.array(sizes + sizes, dtype=np.int64),
                np.concatenate([left_array, left_array + count]),
                np.concatenate([right_array, right_array + count]),
            )
            # The same float operations as the plain path's, element-wise, then clamped.
            half = len(kept)
            blended = 0.25 * (fuzzy_array / 100.0)
            blended[np.array(kept, dtype=np.int64)] += 0.4 * cosines[:half] + 0.35 * cosines[half:]
            clamped = np.clip(blended, 0.0, 1.0).tolist()
        if scores is not None:  # the plain path, or nothing kept
            clamped = [min(1.0, max(0.0, score)) for score in scores]
        out, position = [], 0
        for group in groups:
            out.append(clamped[position:position + len(group)])
            position += len(group)
        return out


DEFAULT_SIMILARITY: Similarity = TfidfFuzzySimilarity()
