"""Text similarity for rephrase and recurrence, behind one small interface.

The default backend is offline and dependency-light: TF-IDF as scikit-learn defines it (the
same analyzers, sublinear TF, smoothed IDF) over word uni/bigrams and character 3–5-grams
(robust to typos and inflection), blended with rapidfuzz's token-set ratio (robust to word
order). No model is downloaded at run time. An embedding backend only has
to implement ``pair_scores``.
"""

from __future__ import annotations

import re
import threading
from itertools import pairwise
from typing import Protocol

import numpy as np
from rapidfuzz import fuzz, process


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
_FUZZY: dict[tuple[str, str], float] = {}  # (a, b) → rapidfuzz token-set ratio; cleared with the memo
_WORDS_ONLY: dict[str, np.ndarray] = {}  # text → its word features' columns alone (``word_cosines``); cleared with the memo
_FEATURES_MAX = 20_000


def _column_numbers(features) -> list[int]:
    vocabulary = _VOCABULARY
    for feature in set(features).difference(vocabulary):  # iterates these features, not the vocabulary
        vocabulary[feature] = len(vocabulary)
    return list(map(vocabulary.__getitem__, features))


def _features(text: str) -> tuple[np.ndarray, np.ndarray]:
    """The column numbers of ``text``'s word features and of its char features, repeats
    included (the kernel counts them), memoised: a session is re-examined whenever a turn lands
    and its earlier questions come back each time. The char n-grams are those of
    ``char_features``, gathered word by word from a memo of each word's columns (words recur far
    more than texts). ``_start_batch`` clears the memos and the vocabulary together, never in the
    middle of a batch (a column must mean one feature for the whole batch)."""
    found = _FEATURES.get(text)
    if found is None:
        chars: list[int] = []
        by_word = _WORD_COLUMNS
        for word in text.lower().split():
            columns = by_word.get(word)
            if columns is None:
                columns = by_word[word] = _column_numbers(_word_char_features(word))
            chars += columns
        found = _FEATURES[text] = (
            np.array(_column_numbers(word_features(text)), dtype=np.int64), np.array(chars, dtype=np.int64),
        )
    return found


def _fuzzy_ratios(pairs: list[tuple[str, str]]) -> list[float]:
    """rapidfuzz's token-set ratio (0–100, lowercased texts) of each pair, memoised per pair: a
    batch repeats pairs (a user's earlier question against each of their sessions) and a session
    re-examined when a turn lands brings its pairs back. New pairs go to rapidfuzz in one call."""
    memo = _FUZZY
    new = [pair for pair in dict.fromkeys(pairs) if pair not in memo]
    if new:
        ratios = process.cpdist([a.lower() for a, _ in new], [b.lower() for _, b in new], scorer=fuzz.token_set_ratio,
                                dtype=np.float64, workers=1)
        memo.update(zip(new, ratios.tolist()))
    return [memo[pair] for pair in pairs]


def clear_memos() -> None:
    """Forget every analysed text and scored pair (benchmarks time a first pass with this)."""
    for memo in (_FEATURES, _FUZZY, _WORD_COLUMNS, _VOCABULARY, _WORDS_ONLY):
        memo.clear()


def _start_batch() -> None:
    """Bound the memos: all of them go at once, before a batch, when one grows too large."""
    if len(_FEATURES) >= _FEATURES_MAX or len(_WORDS_ONLY) >= _FEATURES_MAX or len(_FUZZY) >= 5 * _FEATURES_MAX or len(_VOCABULARY) >= 50 * _FEATURES_MAX:
        clear_memos()


_KERNEL = None
_SCRATCH = threading.local()  # the kernel's zeroed scratch arrays, one pair per thread


def _cosines(columns, lengths, row_text, sizes, left, right) -> np.ndarray:
    """``apps.detection.tfidf.tfidf_cosines`` (imported, and numba with it, on first use) with
    this thread's scratch arrays, grown to the vocabulary; the kernel leaves them zeroed."""
    global _KERNEL
    if _KERNEL is None:
        from apps.detection.tfidf import tfidf_cosines

        _KERNEL = tfidf_cosines
    width = int(columns.max()) + 1 if len(columns) else 1
    counts = getattr(_SCRATCH, "counts", None)
    if counts is None or len(counts) < width:
        size = max(width, 2 * len(counts) if counts is not None else 4096)
        _SCRATCH.counts, _SCRATCH.dense = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.float64)
    return _KERNEL(columns, lengths, row_text, sizes, left, right, _SCRATCH.counts, _SCRATCH.dense)


def warm_up() -> None:
    """Import and load the compiled kernel now (a worker calls this at start)."""
    one = np.zeros(1, dtype=np.int64)
    _cosines(one, np.ones(1, dtype=np.int64), one, np.ones(1, dtype=np.int64), one, one)


class TfidfFuzzySimilarity:
    """0.4 × word TF-IDF cosine + 0.35 × char TF-IDF cosine + 0.25 × rapidfuzz token-set ratio.

    IDF is fitted on the texts of one group of pairs (a session's candidates), which
    down-weights words every message shares ("how", "my") without any stored vocabulary.
    rapidfuzz runs first on every distinct pair (C++, one call for the whole batch, memoised); a
    pair it scores below ``prefilter`` cannot reach a useful blend and skips the TF-IDF stage (its
    score is the fuzzy part alone, and its texts take no part in the IDF fit). Each distinct text
    is analysed once per process (``_features``); the cosines come from ``tfidf_views``.
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
        fuzzy = np.array(_fuzzy_ratios(flat), dtype=np.float64) / 100.0
        kept = np.flatnonzero(fuzzy >= self.prefilter)
        blended = 0.25 * fuzzy
        if len(kept):
            word, char = tfidf_views(groups, keep=kept)
            blended[kept] += 0.4 * word[kept] + 0.35 * char[kept]
        clamped = np.clip(blended, 0.0, 1.0).tolist()
        out, position = [], 0
        for group in groups:
            out.append(clamped[position:position + len(group)])
            position += len(group)
        return out


def _pair_rows(groups, keep):
    """The kernel's layout of the pairs of ``groups`` at positions ``keep`` (None: every pair):
    the distinct texts (text → number), each group's rows (a row = a text inside a group), the
    groups' sizes, each pair's left and right row, and the positions kept."""
    wanted = None if keep is None else set(np.asarray(keep).tolist())
    texts: dict[str, int] = {}  # each distinct text once per call, whatever its groups
    row_text: list[int] = []
    sizes: list[int] = []
    left: list[int] = []
    right: list[int] = []
    kept: list[int] = []
    position = 0
    for group in groups:
        index: dict[str, int] = {}  # text → its row in this group
        for a, b in group:
            if wanted is None or position in wanted:
                kept.append(position)
                for text in (a, b):
                    if text not in index:
                        index[text] = len(row_text)
                        row_text.append(texts.setdefault(text, len(texts)))
                left.append(index[a])
                right.append(index[b])
            position += 1
        if index:
            sizes.append(len(index))
    return texts, row_text, sizes, left, right, kept


def tfidf_views(groups: list[list[tuple[str, str]]], *, keep=None) -> tuple[np.ndarray, np.ndarray]:
    """The word and the character TF-IDF cosine of every pair (flattened over ``groups``), each
    group's IDF fitted on that group's texts alone; a pair outside ``keep`` (positions in the
    flattened list; None = every pair) is not computed (0) and its texts take no part in the fit.

    Each distinct text is analysed once per process (``_features``); the weighting and the
    cosines of every group run in one call of the compiled kernel (``apps.detection.tfidf``).
    Word rows then char rows: the char rows form groups of their own after the word groups (and
    their texts follow the word texts), so each analyzer's document frequencies are counted apart.
    """
    _start_batch()
    total = sum(len(group) for group in groups)
    word, char = np.zeros(total, dtype=np.float64), np.zeros(total, dtype=np.float64)
    texts, row_text, sizes, left, right, kept = _pair_rows(groups, keep)
    if not kept:
        return word, char
    features = [_features(text) for text in texts]
    words, chars = [f[0] for f in features], [f[1] for f in features]
    rows_text = np.array(row_text, dtype=np.int64)
    rows, left_array, right_array = len(row_text), np.array(left, dtype=np.int64), np.array(right, dtype=np.int64)
    cosines = _cosines(
        np.concatenate(words + chars),
        np.fromiter(map(len, words + chars), dtype=np.int64, count=2 * len(texts)),
        np.concatenate([rows_text, rows_text + len(texts)]),
        np.array(sizes + sizes, dtype=np.int64),
        np.concatenate([left_array, left_array + rows]),
        np.concatenate([right_array, right_array + rows]),
    )
    half = len(kept)
    positions = np.array(kept, dtype=np.int64)
    word[positions], char[positions] = cosines[:half], cosines[half:]
    return word, char


def word_cosines(groups: list[list[tuple[str, str]]], *, keep=None) -> np.ndarray:
    """The word TF-IDF cosine of ``tfidf_views`` alone (equal to its first result), without
    analysing the texts' character n-grams: the rephrase model reads only this view."""
    _start_batch()
    out = np.zeros(sum(len(group) for group in groups), dtype=np.float64)
    texts, row_text, sizes, left, right, kept = _pair_rows(groups, keep)
    if not kept:
        return out
    memo = _WORDS_ONLY
    words = []
    for text in texts:
        found = memo.get(text)
        if found is None:
            found = memo[text] = np.array(_column_numbers(word_features(text)), dtype=np.int64)
        words.append(found)
    out[np.array(kept, dtype=np.int64)] = _cosines(
        np.concatenate(words), np.fromiter(map(len, words), dtype=np.int64, count=len(words)),
        np.array(row_text, dtype=np.int64), np.array(sizes, dtype=np.int64),
        np.array(left, dtype=np.int64), np.array(right, dtype=np.int64),
    )
    return out


DEFAULT_SIMILARITY: Similarity = TfidfFuzzySimilarity()
