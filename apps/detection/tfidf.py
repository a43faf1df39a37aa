"""The TF-IDF cosine kernel of the default similarity backend, compiled by numba.

Imported on first use (``similarity._cosines``): numba costs a third of a second to import and a
second or two to compile on a machine's first call (``cache=True`` keeps the machine code in
``__pycache__`` for every later process), and neither should land on every Django start.

A detector pass scores a few thousand pairs in small groups (a session's candidates, often two
to ten texts, a text often in several groups). Written as numpy array operations, the per-call
overhead and a sort of every (group, feature) of the batch cost more than the arithmetic;
compiled, the loops below count and multiply in place, linear in what they read, with each
distinct text's term frequencies counted once per call.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def tfidf_cosines(columns, lengths, row_text, sizes, left, right, counts, dense):  # pragma: no cover - compiled
    """Cosines of the TF-IDF vectors of rows ``left[p]`` and ``right[p]``.

    Text t holds the ``lengths[t]`` next entries of ``columns``: the column number of each of
    its features, repeats included (a feature's repeats are its term frequency). Row r is text
    ``row_text[r]`` inside a group; rows come group by group, ``sizes[g]`` rows in group g, and
    a pair's two rows are in one group. As scikit-learn's ``TfidfVectorizer(sublinear_tf=True)``
    fitted on the group's rows: weight = (1 + ln tf) × (ln((1 + n) / (1 + df)) + 1), n the
    group's rows and df those holding the feature; each row L2-normalised; a cosine is the dot
    product of two rows (a row without features: 0; a row paired with itself: 1).

    ``counts`` (int64) and ``dense`` (float64) are all-zero scratch arrays longer than the
    largest column number, and are all-zero again on return: counting and dot products index
    them by column instead of sorting, so every step is linear in the entries it reads.
    """
    texts = len(lengths)
    # 1. Each text's distinct columns (first-occurrence order) with their sublinear TF.
    text_start = np.zeros(texts + 1, dtype=np.int64)
    text_column = np.empty(len(columns), dtype=np.int64)
    text_tf = np.empty(len(columns), dtype=np.float64)
    start, kept = 0, 0
    for t in range(texts):
        end = start + lengths[t]
        for e in range(start, end):
            counts[columns[e]] += 1
        for e in range(start, end):
            column = columns[e]
            if counts[column] > 0:
                text_column[kept] = column
                text_tf[kept] = 1.0 + math.log(counts[column])
                counts[column] = 0
                kept += 1
        text_start[t + 1] = kept
        start = end
    # 2. Per group: document frequencies, then each row's normalised weights.
    rows = len(row_text)
    row_start = np.zeros(rows + 1, dtype=np.int64)
    for r in range(rows):
        t = row_text[r]
        row_start[r + 1] = row_start[r] + text_start[t + 1] - text_start[t]
    weight = np.empty(row_start[rows], dtype=np.float64)
    norm = np.zeros(rows, dtype=np.float64)
    first = 0
    for g in range(len(sizes)):
        n = sizes[g]
        last = first + n
        for r in range(first, last):
            t = row_text[r]
            for e in range(text_start[t], text_start[t + 1]):
                counts[text_column[e]] += 1
        for r in range(first, last):
            t = row_text[r]
            at = row_start[r]
            squares = 0.0
            for e in range(text_start[t], text_start[t + 1]):
                value = text_tf[e] * (math.log((1.0 + n) / (1.0 + counts[text_column[e]])) + 1.0)
                weight[at] = value
                squares += value * value
                at += 1
            if squares > 0.0:
                norm[r] = math.sqrt(squares)
                for at in range(row_start[r], row_start[r + 1]):
                    weight[at] /= norm[r]
        for r in range(first, last):
            t = row_text[r]
            for e in range(text_start[t], text_start[t + 1]):
                counts[text_column[e]] = 0
        first = last
    # 3. Each pair: one row spread over ``dense``, the other read against it.
    out = np.zeros(len(left), dtype=np.float64)
    for p in range(len(left)):
        a, b = left[p], right[p]
        if a == b:
            out[p] = 1.0 if norm[a] > 0.0 else 0.0
            continue
        ta, tb = row_text[a], row_text[b]
        at = row_start[a]
        for e in range(text_start[ta], text_start[ta + 1]):
            dense[text_column[e]] = weight[at]
            at += 1
        dot = 0.0
        at = row_start[b]
        for e in range(text_start[tb], text_start[tb + 1]):
            dot += weight[at] * dense[text_column[e]]
            at += 1
        for e in range(text_start[ta], text_start[ta + 1]):
            dense[text_column[e]] = 0.0
        out[p] = dot
    return out
