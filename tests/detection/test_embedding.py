"""The optional embedding backend: the adapter's arithmetic, the setting, its startup check."""

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from apps.detection.apps import similarity_backend_check
from apps.detection.embedding import EmbeddingSimilarity, _backend, sentence_transformers_backend, similarity_backend
from apps.detection.similarity import DEFAULT_SIMILARITY

VOCABULARY = ["refund", "order", "late", "password", "reset", "money", "back"]
SYNONYMS = {"money": "refund", "back": "refund"}  # what a real embedding model knows and TF-IDF does not


class CountingEmbed:
    """Bag of words over a small vocabulary, synonyms folded: a deterministic stand-in model."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def __call__(self, texts):
        self.calls.append(list(texts))
        rows = []
        for text in texts:
            words = [SYNONYMS.get(w, w) for w in text.lower().replace("?", "").split()]
            rows.append([words.count(v) for v in VOCABULARY])
        return np.array(rows, dtype=float)


def synonym_backend():
    return EmbeddingSimilarity(CountingEmbed())


def not_a_backend():
    return object()


@pytest.fixture(autouse=True)
def fresh_backend():
    _backend.cache_clear()
    yield
    _backend.cache_clear()


def test_cosine_of_embeddings_clipped_to_zero_one_with_one_call_per_batch():
    embed = CountingEmbed()
    backend = EmbeddingSimilarity(embed)

    scores = backend.group_scores([
        [("refund my order", "refund my order"), ("refund my order", "password reset")],
        [("I want my money back", "refund please"), ("hello", "refund")],
    ])

    assert [[round(s, 6) for s in group] for group in scores] == [[1.0, 0.0], [1.0, 0.0]]
    assert len(embed.calls) == 1
    assert len(embed.calls[0]) == len(set(embed.calls[0]))  # each distinct text embedded once
    assert backend.pair_scores([]) == []


def test_an_embedding_function_with_the_wrong_shape_is_a_clear_error():
    backend = EmbeddingSimilarity(lambda texts: np.zeros((1, 3)))

    with pytest.raises(ValueError, match="one vector per text"):
        backend.pair_scores([("a", "b")])


def test_the_setting_picks_the_backend_and_empty_means_the_default():
    with override_settings(SIMILARITY_BACKEND=""):
        assert similarity_backend() is DEFAULT_SIMILARITY
    with override_settings(SIMILARITY_BACKEND="tests.detection.test_embedding.synonym_backend"):
        backend = similarity_backend()
        assert isinstance(backend, EmbeddingSimilarity)
        assert similarity_backend() is backend  # built once per process


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("tests.detection.test_embedding.nowhere", "cannot be imported"),
        ("tests.detection.test_embedding.not_a_backend", "has no pair_scores"),
    ],
)
def test_a_bad_backend_setting_is_refused_with_its_name(path, message):
    with override_settings(SIMILARITY_BACKEND=path), pytest.raises(ImproperlyConfigured, match=message):
        similarity_backend()


def test_the_startup_check_names_a_backend_that_does_not_import():
    with override_settings(SIMILARITY_BACKEND="tests.detection.test_embedding.nowhere"):
        errors = similarity_backend_check()
    with override_settings(SIMILARITY_BACKEND="tests.detection.test_embedding.synonym_backend"):
        fine = similarity_backend_check()

    assert [e.id for e in errors] == ["detection.E001"] and "nowhere" in errors[0].msg
    assert fine == []


def test_the_sentence_transformers_backend_needs_a_local_model(monkeypatch, tmp_path):
    monkeypatch.setenv("AGENTLOOP_EMBEDDING_MODEL", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="never downloads"):
        sentence_transformers_backend()


@pytest.mark.django_db
def test_detection_scores_recurrences_with_the_configured_backend(project):
    """A recurrence TF-IDF cannot see (no shared words) is found when the embedding knows the
    synonyms. (Rephrase is the learned model, with its own semantic view: apps.detection.semantic.)"""
    import datetime as dt

    from django.utils import timezone

    from apps.detection.models import DetectionPass, DetectorSettings
    from apps.detection.services.run import detect_session
    from apps.traces.models import Signal
    from tests.factories.traces import TurnFactory

    DetectorSettings.objects.create(project=project, detector="random_sample", enabled=False)
    start = timezone.now() - dt.timedelta(hours=1)
    TurnFactory(project=project, session_id="s1", end_user_id="u1", created_at=start, input="refund", output="Sure.")
    second = TurnFactory(project=project, session_id="s2", end_user_id="u1", created_at=start + dt.timedelta(minutes=20),
                         input="money back", output="Done.")

    detect_session(project=project, session_id="s2", now=timezone.now())
    default_kinds = set(Signal.objects.for_project(project).filter(turn_id=second.id).values_list("kind", flat=True))
    Signal.objects.for_project(project).filter(source="detector").delete()
    DetectionPass.objects.for_project(project).delete()
    with override_settings(SIMILARITY_BACKEND="tests.detection.test_embedding.synonym_backend"):
        detect_session(project=project, session_id="s2", now=timezone.now())
    embedded_kinds = set(Signal.objects.for_project(project).filter(turn_id=second.id).values_list("kind", flat=True))

    assert "recurrence" not in default_kinds
    assert "recurrence" in embedded_kinds
