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
import re
from pathlib import Path

import numpy as np
from django.conf import settings

logger = logging.getLogger(__name__)

_MEMO: dict[str, np.ndarray] = {}  # text → its unit embedding (float32)
_MEMO_MAX = 20_000
_WORD_INDEX: dict[str, int] = {}  # word → its row in ``_WORD_TABLE`` (``_embed``)
_WORD_TABLE = np.zeros((0, 0), dtype=np.float32)  # row → the word's summed token embeddings
_WORDS_MAX = 100_000


def _clear_words() -> None:
    global _WORD_TABLE
    _WORD_INDEX.clear()
    _PIECES.clear()
    _WORD_TABLE = np.zeros((0, 0), dtype=np.float32)


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
    _clear_words()


_DIGIT = re.compile(r"([0-9])")
_BYTE_TOKEN = re.compile(r"<0x[0-9A-F]{2}>")
_PIECES: dict[str, list[int]] = {}  # a digit-free piece of a word (or a digit) → its token ids (``_token_ids``)


@functools.cache
def _digits_stand_alone(tokenizer) -> bool:
    """Whether no token of the vocabulary holds an ASCII digit beside another character (the
    byte-fallback tokens "<0x3A>" and the special ones aside: no merge makes them), and no
    pre-tokenizer splits a word: then BPE never merges across a digit (each digit is a token of
    its own), and a word's tokens are those of its pieces between digits (``_token_ids``)."""
    special = set(tokenizer.get_added_tokens_decoder().values())
    special = {getattr(token, "content", token) for token in special}
    return tokenizer.pre_tokenizer is None and all(
        len(token) == 1 or _BYTE_TOKEN.fullmatch(token) or token in special or not any(char in "0123456789" for char in token)
        for token in tokenizer.get_vocab()
    )


def _token_ids(tokenizer, word: str) -> list[int]:
    """The token ids of one whitespace-free ``word``: ``tokenizer.encode(word).ids`` without
    special tokens. A word with digits (order numbers, amounts, dates: ids recur far less than
    words) is put together from its pieces between digits, each tokenised once per process, when
    the vocabulary lets digits stand alone (``_digits_stand_alone``); the normalizer's "▁" goes in
    front of the first piece. A word holding "<" (the special tokens' text) takes the full way."""
    if "<" in word or not _DIGIT.search(word) or not _digits_stand_alone(tokenizer):
        return tokenizer.encode(word, add_special_tokens=False).ids
    pieces = _DIGIT.split(word)
    pieces[0] = "▁" + pieces[0]
    ids: list[int] = []
    memo, tokenize = _PIECES, tokenizer.model.tokenize
    for piece in pieces:
        if piece:
            found = memo.get(piece)
            if found is None:
                found = memo[piece] = [token.id for token in tokenize(piece)]
            ids += found
    return ids


def _word_rows(words: list[str]) -> list[int]:
    """The rows of ``_WORD_TABLE`` holding each word's summed token embeddings, tokenising (once
    per process) the words not seen yet."""
    global _WORD_TABLE
    index = _WORD_INDEX
    new = [word for word in dict.fromkeys(words) if word not in index]
    if new:
        found = model()
        tokenizer, table = found.tokenizer, found.embedding
        ids = [_token_ids(tokenizer, word) for word in new]
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        sums = np.zeros((len(new), table.shape[1]), dtype=np.float32)
        present = np.flatnonzero(lengths)
        if len(present):
            flat = np.fromiter((i for row in ids for i in row), dtype=np.int64, count=int(lengths.sum()))
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])[present]
            sums[present] = np.add.reduceat(table[np.clip(flat, 0, len(table) - 1)], starts, axis=0)
        start = len(index)
        if start + len(new) > len(_WORD_TABLE):
            grown = np.zeros((max(2 * len(_WORD_TABLE), start + len(new), 1024), table.shape[1]), dtype=np.float32)
            if start:
                grown[:start] = _WORD_TABLE[:start]
            _WORD_TABLE = grown
        _WORD_TABLE[start:start + len(new)] = sums
        index.update(zip(new, range(start, start + len(new))))
    return [index[word] for word in words]


def _embed(texts: list[str]) -> np.ndarray:
    """Unit mean-pooled token embeddings of each text, WordLlama's ``embed(texts, norm=True)``
    with the text tokenised word by word: the tokenizer (Llama's SentencePiece BPE) marks each
    word's start with "▁" and no token spans two words, so for single-spaced text the tokens are
    the same as the whole text's (a run of spaces loses its extra "▁" tokens). Each distinct word
    is tokenised once per process (``_WORD_INDEX``: words recur far more than texts, and one
    tokenizer call costs about as much as pooling a whole batch), and a text's vector is the sum
    of its words' rows, every text of the call in one ``reduceat``."""
    split = [text.split() for text in texts]
    lengths = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
    width = model().embedding.shape[1]
    out = np.zeros((len(texts), width), dtype=np.float32)
    present = np.flatnonzero(lengths)
    if len(present):
        if len(_WORD_INDEX) >= _WORDS_MAX:
            _clear_words()
        rows = np.array(_word_rows([word for words in split for word in words]), dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])[present]
        sums = np.add.reduceat(_WORD_TABLE[rows], starts, axis=0)
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
