"""The rephrase model's semantic view: the cosine of two questions' static embeddings.

Word overlap cannot see that "money back" asks for a "refund". WordLlama (``wordllama==0.4.0.post1``,
MIT, the ``semantic`` extra) averages token embeddings distilled from a large language model's
embedding table; its wheel ships the 16 MB weights and the tokenizer config, so the model is
loaded from the installed package folder with downloads disabled — nothing is fetched at run
time. Loading takes a fraction of a second, once per process, on first use.

The view is optional: without the package, or with ``AGENTLOOP_SEMANTIC_VIEW=false``,
``available()`` is False and the rephrase model uses its variant trained without this feature
(``apps.detection.detectors.rephrase_model``). Each distinct text is embedded once per process (a
bounded memo: a session is re-examined whenever a turn lands, and its earlier questions come
back each time); a call embeds its new texts in one batch.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np
from django.conf import settings

logger = logging.getLogger(__name__)

_MEMO: dict[str, np.ndarray] = {}  # text → its unit embedding (float32)
_MEMO_MAX = 20_000


@functools.cache
def _model(enabled: bool):
    if not enabled:
        return None
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError:
        logger.info("wordllama is not installed: the rephrase model runs without its semantic view")
        return None
    loaded = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    loaded.tokenizer.no_padding()  # texts are encoded one by one (``_embed``)
    return loaded


def model():
    """The loaded WordLlama model, or None when the semantic view is off or not installed."""
    return _model(bool(getattr(settings, "SEMANTIC_VIEW", True)))


def available() -> bool:
    return model() is not None


def clear_memo() -> None:
    _MEMO.clear()


def _embed(texts: list[str]) -> np.ndarray:
    """Unit mean-pooled token embeddings, as ``WordLlama.embed(texts, norm=True)`` computes them
    (equal to float precision), without its per-call batching: each text is encoded on this
    thread (``encode_batch`` spreads a few texts over a thread pool whose start-up costs more
    CPU than the work), and the pooling of every text is one ``reduceat``."""
    found = model()
    encode, table = found.tokenizer.encode, found.embedding
    ids = [encode(text, add_special_tokens=False).ids for text in texts]
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    out = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
    present = np.flatnonzero(lengths)
    if len(present):
        flat = np.clip(np.fromiter((i for row in ids for i in row), dtype=np.int64, count=int(lengths.sum())), 0, len(table) - 1)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])[present]
        sums = np.add.reduceat(table[flat], starts, axis=0)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        out[present] = sums / np.where(norms > 0, norms, 1.0)
    return out


def _vectors(texts: list[str]) -> list[np.ndarray]:
    memo = _MEMO
    new = [text for text in dict.fromkeys(texts) if text not in memo]
    if new:
        if len(memo) + len(new) > _MEMO_MAX:
            memo.clear()
            new = list(dict.fromkeys(texts))
        memo.update(zip(new, _embed(new)))
    return [memo[text] for text in texts]


def cosines(pairs: list[tuple[str, str]]) -> np.ndarray:
    """The cosine of each pair's embeddings, clipped to [0, 1] (needs ``available()``)."""
    if not pairs:
        return np.zeros(0, dtype=np.float64)
    left = np.stack(_vectors([a for a, _ in pairs]))
    right = np.stack(_vectors([b for _, b in pairs]))
    return np.clip(np.einsum("ij,ij->i", left, right).astype(np.float64), 0.0, 1.0)
