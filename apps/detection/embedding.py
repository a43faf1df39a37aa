"""Optional similarity backends for recurrence: your own embedding model behind the
``Similarity`` interface (apps/detection/similarity.py). (Rephrase is a learned model with its
own semantic view: apps/detection/detectors/rephrase_model.py, apps/detection/semantic.py.)

``AGENTLOOP_SIMILARITY_BACKEND`` names, as a dotted path, a callable that returns a backend (any
object with ``pair_scores(pairs) -> list[float]``); empty means the built-in offline TF-IDF +
rapidfuzz blend. ``EmbeddingSimilarity(embed)`` adapts any ``embed(texts) -> (n, d) array``
function (a local sentence-transformers model, an in-house embedding service) to the interface:
the cosine of the two embeddings, clipped to [0, 1], with one ``embed`` call per batch.
``sentence_transformers_backend`` is such a factory for a model already on disk
(``AGENTLOOP_EMBEDDING_MODEL`` = its folder). AgentLoop itself never downloads a model, and the
detector thresholds on the Detectors tab are on the chosen backend's scale.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from apps.detection.similarity import DEFAULT_SIMILARITY, Similarity

Embed = Callable[[list[str]], Sequence[Sequence[float]]]


class EmbeddingSimilarity:
    """Cosine similarity of embeddings from ``embed``; each distinct text is embedded once per call."""

    def __init__(self, embed: Embed):
        self.embed = embed

    def pair_scores(self, pairs: list[tuple[str, str]]) -> list[float]:
        return self.group_scores([pairs])[0]

    def group_scores(self, groups: list[list[tuple[str, str]]]) -> list[list[float]]:
        texts = list(dict.fromkeys(text for group in groups for pair in group for text in pair))
        if not texts:
            return [[] for _ in groups]
        vectors = np.asarray(self.embed(texts), dtype=np.float64)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ValueError(
                f"The embedding function returned shape {vectors.shape} for {len(texts)} texts; "
                "it must return one vector per text."
            )
        norms = np.linalg.norm(vectors, axis=1)
        norms[norms == 0] = np.inf  # an empty embedding is similar to nothing
        unit = vectors / norms[:, None]
        row = {text: index for index, text in enumerate(texts)}
        scores = []
        for group in groups:
            left = unit[[row[a] for a, _ in group]] if group else unit[:0]
            right = unit[[row[b] for _, b in group]] if group else unit[:0]
            scores.append(np.clip(np.einsum("ij,ij->i", left, right), 0.0, 1.0).tolist())
        return scores


def sentence_transformers_backend() -> EmbeddingSimilarity:
    """An ``EmbeddingSimilarity`` over a sentence-transformers model stored locally
    (``AGENTLOOP_EMBEDDING_MODEL`` = the model's folder; ``pip install sentence-transformers``)."""
    path = os.environ.get("AGENTLOOP_EMBEDDING_MODEL", "")
    if not path or not os.path.isdir(path):
        raise ImproperlyConfigured(
            "AGENTLOOP_EMBEDDING_MODEL must name a folder holding a sentence-transformers model "
            f"(got {path!r}); AgentLoop never downloads one."
        )
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        raise ImproperlyConfigured(
            "The sentence-transformers backend needs `pip install sentence-transformers`."
        ) from error
    model = SentenceTransformer(path, local_files_only=True)
    return EmbeddingSimilarity(lambda texts: model.encode(texts, batch_size=64, show_progress_bar=False))


def similarity_backend() -> Similarity:
    """The configured backend (``AGENTLOOP_SIMILARITY_BACKEND``), built once per process."""
    return _backend(settings.SIMILARITY_BACKEND)


@functools.cache
def _backend(path: str) -> Similarity:
    if not path:
        return DEFAULT_SIMILARITY
    try:
        factory = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(f"AGENTLOOP_SIMILARITY_BACKEND={path!r} cannot be imported: {error}") from error
    backend = factory()
    if not callable(getattr(backend, "pair_scores", None)):
        raise ImproperlyConfigured(
            f"AGENTLOOP_SIMILARITY_BACKEND={path!r} returned {type(backend).__name__}, which has no pair_scores(pairs)."
        )
    return backend
