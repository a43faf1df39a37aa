"""The batched similarity backend and the narrowed history load change no score and drop no pair.

``TfidfFuzzySimilarity.group_scores`` scores every session's pairs of a detector pass in one
compiled-kernel call; each group must score exactly as scikit-learn's TF-IDF fitted on that group
alone (plus rapidfuzz), and as ``pair_scores`` on the group by itself. The loader sends only the
history inside the recurrence window before each batch turn of the same end user; a pass must
find the recurrences a pass over the whole of every other session finds.
"""

import datetime as dt
import random

import numpy as np
import pytest
from rapidfuzz import fuzz
from sklearn.feature_extraction.text import TfidfVectorizer

from apps.detection import similarity
from apps.detection.config import DetectorConfig
from apps.detection.detectors.base import TurnData
from apps.detection.detectors.runner import run_detectors
from apps.detection.models import DetectorSettings
from apps.detection.services.run import detect_sessions
from apps.traces.models import Signal
from bench.detectors import synthetic_sessions
from tests.factories.traces import TurnFactory

WORDS = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b", sublinear_tf=True)
CHARS = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)


def scikit_learn_scores(pairs, prefilter=0.4) -> list[float]:
    """The contract, written the slow way: TF-IDF fitted on the group's kept pairs' texts."""
    fuzzy = [fuzz.token_set_ratio(a, b, processor=str.lower) / 100 for a, b in pairs]
    kept = [i for i, value in enumerate(fuzzy) if value >= prefilter]
    texts = list(dict.fromkeys(t for i in kept for t in pairs[i]))
    cosines = {}
    for weight, vectorizer in ((0.4, WORDS), (0.35, CHARS)):
        try:
            matrix = vectorizer.fit_transform(texts)
            cosines[weight] = (matrix @ matrix.T).toarray()
        except ValueError:  # no text has a feature (empty vocabulary): every cosine is 0
            cosines[weight] = np.zeros((len(texts), len(texts)))
    scores = [0.25 * value for value in fuzzy]
    for i in kept:
        a, b = texts.index(pairs[i][0]), texts.index(pairs[i][1])
        scores[i] += sum(weight * matrix[a, b] for weight, matrix in cosines.items())
    return [min(1.0, max(0.0, score)) for score in scores]


class Recorder:
    """A backend that records the groups ``run_detectors`` asks for and scores them for real."""

    def __init__(self):
        self.groups = []

    def pair_scores(self, pairs):
        self.groups.append(list(pairs))
        return similarity.DEFAULT_SIMILARITY.pair_scores(pairs)


def bench_groups(count=300) -> list[list[tuple[str, str]]]:
    sessions, now = synthetic_sessions(count, seed=3)
    recorder = Recorder()
    for start in range(0, len(sessions), 50):
        run_detectors(sessions[start:start + 50], DetectorConfig(), now=now, history=[t for s in sessions[:start] for t in s],
                      similarity=recorder)
    return recorder.groups


def test_batched_groups_score_as_scikit_learn_fitted_on_each_group_alone():
    # Given the rephrase and recurrence pairs of the bench's realistic sessions, plus edge cases
    groups = bench_groups() + [
        [("", ""), ("ok", "ok")],  # no features at all; a text paired with itself
        [("How do I reset my password?", "How do I reset my password?")],
        [("where is my order 12", "where is my order 12, it has not arrived"), ("thanks", "where is my order 12")],
    ]
    assert sum(len(g) for g in groups) > 500

    # When every group is scored in one call, and each group on its own
    similarity.clear_memos()
    together = similarity.DEFAULT_SIMILARITY.group_scores(groups)
    alone = [similarity.DEFAULT_SIMILARITY.pair_scores(g) for g in groups]

    # Then both equal scikit-learn's TF-IDF fitted on the group (and rapidfuzz)
    expected = [scikit_learn_scores(g) for g in groups]
    for group, got, single, want in zip(groups, together, alone, expected):
        assert np.allclose(got, want, rtol=0, atol=1e-9), group
        assert np.allclose(single, want, rtol=0, atol=1e-9), group


def test_run_detectors_finds_the_same_pairs_with_a_backend_without_group_scores():
    # Given the bench's sessions, scored by the batched backend and by a per-session one
    sessions, now = synthetic_sessions(200, seed=5)
    history = [t for s in sessions[100:] for t in s]
    batch = sessions[:100]

    # When the detectors run with each
    batched = run_detectors(batch, DetectorConfig(), now=now, history=history)
    per_session = run_detectors(batch, DetectorConfig(), now=now, history=history, similarity=Recorder())

    # Then they store the same detections
    assert sorted(map(repr, batched.detections)) == sorted(map(repr, per_session.detections))
    assert any(d.kind == "recurrence" for d in batched.detections)


@pytest.mark.django_db
def test_the_narrowed_history_load_finds_every_recurrence_a_full_history_finds(project):
    # Given a few users' sessions over six hours: turns inside and outside the recurrence window
    # of each other, before and after, same and other sessions
    DetectorSettings.all_tenants.create(project=project, detector="random_sample", enabled=False)
    rng = random.Random(1)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=8)
    questions = ["How do I reset my password?", "how can I change my password", "Where is my order 42?",
                 "where is my order 42, it has not arrived", "Which plans include SSO?", "refund for the annual plan please"]
    turns = []
    for number in range(40):
        user, at = f"u{number % 4}", start + dt.timedelta(minutes=rng.randrange(6 * 60))
        for index in range(rng.randint(1, 3)):
            turns.append(TurnFactory(project=project, session_id=f"s{number}", end_user_id=user, input=rng.choice(questions),
                                     output="Open Settings.", created_at=at + dt.timedelta(minutes=3 * index)))
    examined = [f"s{number}" for number in range(0, 40, 3)]

    # When detection runs over some of the sessions (the loader picks their history)
    detect_sessions(project=project, session_ids=examined)

    # Then it stored exactly the recurrences found with every other session's turns as history
    as_data = [TurnData(id=t.id, session_id=t.session_id, end_user_id=t.end_user_id, created_at=t.created_at,
                        question=t.input, answer=t.output) for t in turns]
    sessions = [sorted((t for t in as_data if t.session_id == s), key=lambda t: (t.created_at, t.id)) for s in examined]
    everything_else = [t for t in as_data if t.session_id not in examined]
    expected = run_detectors(sessions, DetectorConfig(enabled=frozenset({"recurrence"})), now=dt.datetime.now(dt.UTC),
                             history=everything_else)
    stored = Signal.objects.for_project(project).filter(source="detector", kind="recurrence")
    assert sorted((s.turn_id, s.value["previous_turn_id"]) for s in stored) == sorted(
        (d.turn_id, d.value["previous_turn_id"]) for d in expected.detections
    )
    assert len(expected.detections) > 3


def test_a_long_sessions_group_scores_as_scikit_learn_and_leaves_the_scratch_zeroed():
    # Given one group of 300 pairs over 200 distinct texts (a long session in a sweep), after a
    # fresh start, so the kernel's scratch arrays must grow with the vocabulary
    rng = random.Random(2)
    words = ["refund", "order", "password", "reset", "invoice", "plan", "annual", "where", "is", "my", "how", "do", "i"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(2, 9))) + f" {n}" for n in range(200)]
    group = [(rng.choice(texts), rng.choice(texts)) for _ in range(300)]
    similarity.clear_memos()

    # When it is scored
    got = similarity.DEFAULT_SIMILARITY.group_scores([group])[0]

    # Then every pair scores as scikit-learn fitted on the group, and the scratch is all zero again
    assert np.allclose(got, scikit_learn_scores(group), rtol=0, atol=1e-9)
    assert not similarity._SCRATCH.counts.any() and not similarity._SCRATCH.dense.any()
    assert len(similarity._SCRATCH.counts) >= len(similarity._VOCABULARY)


def test_warm_up_loads_the_kernel_and_leaves_the_scratch_zeroed(monkeypatch):
    # Given a process that has not loaded the compiled kernel yet
    monkeypatch.setattr(similarity, "_KERNEL", None)

    # When a worker warms it up at start
    similarity.warm_up()

    # Then the kernel is loaded, its scratch is clean, and pairs score as before
    assert similarity._KERNEL is not None
    assert not similarity._SCRATCH.counts.any() and not similarity._SCRATCH.dense.any()
    assert similarity.DEFAULT_SIMILARITY.pair_scores([("How do I reset my password?", "How do I reset my password?")]) == [1.0]
