"""Incremental grouping of new failure turns: pure, over vectors (apps/problems/text.py).

Existing problems enter as *seeds* (their stored centroid and weight); new turns are taken in
time order, in chunks:

1. each turn joins the nearest cluster — seed or one formed earlier in this run — with the
   same grouping key (failure category, failed tool) if its cosine to that centroid is at
   least ``JOIN_THRESHOLD`` (a shared prompt version adds ``PROMPT_BONUS``: a tie-breaker);
2. the turns left form new clusters among themselves (leader clustering: the earliest turn
   leads, every remaining turn of the same key within the threshold of it joins);
3. centroids are updated (sum of unit vectors; cosine needs only the direction).

Finally, new clusters whose centroids are within ``MERGE_THRESHOLD`` of another cluster of the
same key are folded into it (a new cluster into a seed, or two new clusters together; two
seeds are never merged automatically — that is a reviewer's call).

Seeds are updated, never rebuilt: their members are not re-read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from apps.problems.text import DIMENSIONS, normalize_rows, vectorize

JOIN_THRESHOLD = 0.36
MERGE_THRESHOLD = 0.5
PROMPT_BONUS = 0.02
CHUNK = 2000


@dataclass(slots=True)
class Item:
    text: str
    key: tuple  # (category, failed tool)
    prompt_version: str = ""


@dataclass(slots=True)
class Seed:
    key: tuple
    centroid: sp.csr_matrix  # 1 × DIMENSIONS, unit length (or empty)
    weight: int
    prompt_version: str = ""


@dataclass(slots=True)
class Grouping:
    """``labels[i]`` is item i's cluster: ``< len(seeds)`` is a seed, above is a new cluster.
    ``sums[c]`` is cluster c's summed vector (seed centroid × weight + its new items)."""

    labels: np.ndarray
    sums: sp.csr_matrix
    keys: list
    added: np.ndarray  # items added per cluster
    seed_count: int
    members: dict = field(default_factory=dict)  # cluster → item indices, in time order

    def new_clusters(self) -> list[int]:
        return [c for c in self.members if c >= self.seed_count]

    def touched_seeds(self) -> list[int]:
        return [c for c in self.members if c < self.seed_count]


class _Codes:
    def __init__(self):
        self.codes: dict = {}

    def __call__(self, value) -> int:
        return self.codes.setdefault(value, len(self.codes))


def _prompt_bonus(item_prompts: np.ndarray, cluster_prompts: np.ndarray) -> np.ndarray:
    same = (item_prompts[:, None] == cluster_prompts[None, :]) & (item_prompts[:, None] >= 0)
    return same.astype(np.float32) * PROMPT_BONUS


def group(items: list[Item], seeds: list[Seed], *, threshold: float = JOIN_THRESHOLD,
          merge_threshold: float = MERGE_THRESHOLD, chunk: int = CHUNK) -> Grouping:
    keys, prompts = _Codes(), _Codes()
    prompts.codes[""] = -1
    cluster_keys = [keys(s.key) for s in seeds]
    cluster_prompts = [prompts(s.prompt_version) if s.prompt_version else -1 for s in seeds]
    if seeds:
        sums = sp.vstack([s.centroid * float(max(s.weight, 1)) for s in seeds], format="csr", dtype=np.float32)
    else:
        sums = sp.csr_matrix((0, DIMENSIONS), dtype=np.float32)
    labels = np.full(len(items), -1, dtype=np.int64)

    for start in range(0, len(items), chunk):
        batch = items[start:start + chunk]
        vectors = vectorize([item.text for item in batch])
        item_keys = np.array([keys(item.key) for item in batch])
        item_prompts = np.array([prompts(item.prompt_version) if item.prompt_version else -1 for item in batch])
        chunk_labels = np.full(len(batch), -1, dtype=np.int64)
        k = sums.shape[0]
        if k:
            scores = (vectors @ normalize_rows(sums).T).toarray()
            scores[item_keys[:, None] != np.array(cluster_keys)[None, :]] = -1.0
            scores += _prompt_bonus(item_prompts, np.array(cluster_prompts))
            best = scores.argmax(axis=1)
            joined = scores[np.arange(len(batch)), best] >= threshold
            chunk_labels[joined] = best[joined]
        left = np.flatnonzero(chunk_labels < 0)
        for key in np.unique(item_keys[left]):
            rows = left[item_keys[left] == key]
            similarity = (vectors[rows] @ vectors[rows].T).toarray()
            similarity += _prompt_bonus(item_prompts[rows], item_prompts[rows])
            free = np.ones(len(rows), dtype=bool)
            for i in range(len(rows)):
                if not free[i]:
                    continue
                members = free & (similarity[i] >= threshold)
                members[i] = True
                chunk_labels[rows[members]] = len(cluster_keys)
                cluster_keys.append(int(key))
                cluster_prompts.append(int(item_prompts[rows[i]]))
                free &= ~members
        grown = len(cluster_keys) - k
        if grown:
            sums = sp.vstack([sums, sp.csr_matrix((grown, DIMENSIONS), dtype=np.float32)], format="csr")
        assignment = sp.csr_matrix(
            (np.ones(len(batch), dtype=np.float32), (np.arange(len(batch)), chunk_labels)),
            shape=(len(batch), len(cluster_keys)),
        )
        sums = (sums + assignment.T @ vectors).tocsr()
        labels[start:start + len(batch)] = chunk_labels

    sizes = np.bincount(labels, minlength=len(cluster_keys)) if len(labels) else np.zeros(len(cluster_keys), dtype=np.int64)
    roots = _fold_new_clusters(sums, cluster_keys, len(seeds), merge_threshold, sizes=sizes, single_threshold=threshold)
    labels = roots[labels] if len(labels) else labels
    mapping = sp.csr_matrix(
        (np.ones(len(roots), dtype=np.float32), (roots, np.arange(len(roots)))), shape=(len(roots), len(roots))
    )
    sums = (mapping @ sums).tocsr()
    added = np.bincount(labels, minlength=len(roots)) if len(labels) else np.zeros(len(roots), dtype=np.int64)
    members: dict = {}
    for index, label in enumerate(labels.tolist()):
        members.setdefault(label, []).append(index)
    key_names = {code: key for key, code in keys.codes.items()}
    return Grouping(
        labels=labels, sums=sums, keys=[key_names[c] for c in cluster_keys], added=added,
        seed_count=len(seeds), members=members,
    )


def _fold_new_clusters(sums, cluster_keys, seed_count: int, threshold: float, *, sizes, single_threshold: float) -> np.ndarray:
    """Root cluster of every cluster after folding near-duplicate new clusters (union-find).

    A new single-turn cluster folds at the join threshold: its centroid is its turn, and the
    turn would have joined had the other cluster's final centroid existed when it was read.
    """
    total = len(cluster_keys)
    parent = np.arange(total)

    def find(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return int(c)

    if total - seed_count < 1 or total < 2:
        return parent
    centroids = normalize_rows(sums)
    key_array = np.array(cluster_keys)
    new = np.arange(seed_count, total)
    for start in range(0, len(new), 1000):
        rows = new[start:start + 1000]
        block = (centroids[rows] @ centroids.T).toarray()
        block[key_array[rows][:, None] != key_array[None, :]] = -1.0
        block[np.arange(len(rows)), rows] = -1.0
        limits = np.where(sizes[rows] <= 1, single_threshold, threshold)[:, None]
        for offset, other in zip(*np.nonzero(block >= limits)):
            a, b = find(int(rows[offset])), find(int(other))
            if a == b or (a < seed_count and b < seed_count):
                continue
            # A seed stays the root (it is an existing problem); otherwise the older cluster.
            if b < seed_count or (a >= seed_count and b < a):
                a, b = b, a
            parent[b] = a
    return np.array([find(c) for c in range(total)])
