"""Detection against the real database: signals written once, tasks safe twice, the sweep."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from apps.core import hooks
from apps.detection.models import DetectionPass, DetectorSettings, SweepCursor
from apps.detection.services.run import detect_session, detect_sessions, detect_turns
from apps.detection.services.sweep import detection_sweep
from apps.detection.tasks import detect_session_task, detect_sessions_task, detect_turns_task, sweep
from apps.traces.models import Signal
from apps.traces.services.ingest import ingest_items
from apps.traces.services.write import CAPTURE_COMMITTED_HOOK
from config.celery_app import app as celery_app
from tests.factories.traces import SignalFactory, StepFactory, TurnFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_random_sample(project, other_project):
    """The 1% random sample would add a signal to a random turn id now and then; it has its own tests."""
    for p in (project, other_project):
        DetectorSettings.all_tenants.create(project=p, detector="random_sample", enabled=False)


def detector_signals(project) -> list[tuple]:
    return sorted(
        Signal.objects.for_project(project).filter(source="detector").values_list("turn_id", "kind", "dedupe_key")
    )


def make_session(project, start):
    first = TurnFactory(project=project, session_id="s1", end_user_id="u1", created_at=start,
                        input="How do I reset my password?", output="Open Settings.")
    second = TurnFactory(project=project, session_id="s1", end_user_id="u1", created_at=start + dt.timedelta(minutes=2),
                         input="how can I change my password", output="I don't know.")
    return first, second


def test_detect_session_writes_each_signal_once(project, other_project):
    now = timezone.now()
    first, second = make_session(project, now - dt.timedelta(hours=1))
    make_session(other_project, now - dt.timedelta(hours=1))

    created = detect_session(project=project, session_id="s1", now=now)
    again = detect_session(project=project, session_id="s1", now=now)

    assert (created, again) == (3, 0)
    assert detector_signals(project) == sorted([
        (first.id, "rephrase", "rephrase"),
        (second.id, "agent_punted", "agent_punted"),
        (second.id, "abandonment", "abandonment"),
    ])
    assert detector_signals(other_project) == []
    assert Signal.objects.for_project(project).get(turn_id=second.id, kind="abandonment").value == {"score": 0.9}


def test_task_runs_twice_without_a_second_signal(project):
    first, second = make_session(project, timezone.now() - dt.timedelta(hours=1))

    detect_session_task.apply(kwargs={"project_id": str(project.pk), "session_id": "s1"})
    detect_session_task.apply(kwargs={"project_id": str(project.pk), "session_id": "s1"})

    assert len(detector_signals(project)) == 3
    assert DetectionPass.objects.for_project(project).count() == 2


def test_detect_turns_task_on_sessionless_turns_and_children(project):
    turn = TurnFactory(project=project, session_id="", input="talk to a human", output="Sure.")
    StepFactory(turn=turn, kind="tool", name="refund", error="timeout")
    StepFactory(turn=turn, kind="retrieval", name="search")
    SignalFactory(turn=turn, kind="confidence", value=0.1)

    for _ in range(2):
        detect_turns_task.apply(kwargs={"project_id": str(project.pk), "turn_ids": [str(turn.id)]})

    assert [kind for _, kind, _ in detector_signals(project)] == ["escalation", "knowledge_gap", "low_confidence", "tool_error"]


def test_task_for_a_deleted_project_is_a_no_op(project):
    detect_session_task.apply(kwargs={"project_id": str(uuid.uuid4()), "session_id": "s1"})

    assert detector_signals(project) == []


def test_disabled_detectors_and_rules(project, owner):
    from apps.detection.services.settings import detection_rule_create, detector_settings_update
    from apps.core.audit import Actor

    actor = Actor(user=owner)
    detector_settings_update(project=project, detector="agent_punted", enabled=False, params={}, actor=actor)
    rule = detection_rule_create(project=project, name="enterprise down", expression='metadata.plan == "enterprise" and signals.thumbs_down',
                                 signal_kind="enterprise_unhappy", actor=actor)
    turn = TurnFactory(project=project, session_id="", output="I don't know.", metadata={"plan": "enterprise"})
    SignalFactory(turn=turn, kind="thumbs_down", value=True)

    detect_turns(project=project, turn_ids=[turn.id])
    detect_turns(project=project, turn_ids=[turn.id])

    assert detector_signals(project) == [(turn.id, "enterprise_unhappy", f"rule:{rule.pk}")]


def test_sweep_after_a_broker_outage_catches_every_missed_turn_once(project, other_project):
    # Given turns ingested while no task could run (the API path committed, the broker was down)
    later = timezone.now() + dt.timedelta(minutes=5)
    items = [
        {"type": "turn", "body": {"session_id": "a", "user_id": "u1", "question": "talk to a human please", "agent_response": "Sure."}},
        {"type": "turn", "body": {"question": "How do I export?", "agent_response": "I don't know."}},
    ]
    ingest_items(project=project, items=items)
    ingest_items(project=other_project, items=items[:1])
    assert DetectionPass.objects.for_project(project).count() == 0

    # When the sweep runs (twice)
    examined = detection_sweep(now=later)
    again = detection_sweep(now=later)

    # Then every missed turn got one pass and its signals, once
    assert (examined, again) == (3, 0)
    kinds = sorted(kind for _, kind, _ in detector_signals(project))
    assert kinds == ["agent_punted", "escalation"]  # abandonment waits for its window
    assert [kind for _, kind, _ in detector_signals(other_project)] == ["escalation"]
    assert DetectionPass.objects.for_project(project).count() == 2


def test_a_second_sweep_reads_only_what_arrived_after_the_first(project):
    # Given turns the first sweep caught up on, which moved the sweep cursor
    now = timezone.now()
    old = TurnFactory(project=project, session_id="", output="Fine.", received_at=now - dt.timedelta(hours=2))
    TurnFactory(project=project, session_id="", output="Fine.", received_at=now - dt.timedelta(hours=1))
    assert detection_sweep(now=now) == 2
    cursor = SweepCursor.objects.get()
    assert now - dt.timedelta(seconds=61) <= cursor.received_at <= now

    # When the next sweep runs with nothing new, then again after an old turn lost its pass, a
    # turn committed late (received before the cursor, inside the re-read window) and a new turn
    assert detection_sweep(now=now) == 0
    DetectionPass.objects.for_project(project).filter(turn_id=old.id).delete()
    late = TurnFactory(project=project, session_id="", output="Fine.", received_at=cursor.received_at - dt.timedelta(minutes=3))
    new = TurnFactory(project=project, session_id="", output="Fine.", received_at=now + dt.timedelta(seconds=30))
    examined = detection_sweep(now=now + dt.timedelta(minutes=2))

    # Then it examined the late and the new turn only: the scan starts at the cursor (less the
    # re-read window), not at the lookback
    assert examined == 2
    assert set(DetectionPass.objects.for_project(project).values_list("turn_id", flat=True)) >= {late.id, new.id}
    assert not DetectionPass.objects.for_project(project).filter(turn_id=old.id).exists()
    assert SweepCursor.objects.get().received_at >= cursor.received_at


def test_the_sweep_cursor_stops_at_the_last_turn_of_a_full_batch(project):
    # Given three missed turns and a batch of two
    now = timezone.now()
    turns = [TurnFactory(project=project, session_id="", output="Fine.", received_at=now - dt.timedelta(minutes=30 - i))
             for i in range(3)]

    # When the sweep runs three times
    counts = [detection_sweep(limit=2, now=now) for _ in range(3)]

    # Then the first run stopped its cursor at the second turn, the second examined the third,
    # and the third found nothing
    assert counts == [2, 1, 0]
    assert DetectionPass.objects.for_project(project).count() == 3
    assert SweepCursor.objects.get().received_at >= turns[2].received_at


def test_sweep_task_twice_and_abandonment_recheck(project):
    now = timezone.now()
    turn = TurnFactory(project=project, session_id="s9", output="", created_at=now - dt.timedelta(minutes=5))
    detect_session(project=project, session_id="s9", now=now)
    assert detector_signals(project) == []
    assert DetectionPass.objects.for_project(project).get().recheck_after == turn.created_at + dt.timedelta(minutes=30)

    sweep.apply()
    sweep.apply()
    assert detector_signals(project) == []  # the window is still open

    examined = detection_sweep(now=now + dt.timedelta(hours=1))

    assert examined == 1
    assert detector_signals(project) == [(turn.id, "abandonment", "abandonment")]
    assert DetectionPass.objects.for_project(project).get().recheck_after is None
    assert detection_sweep(now=now + dt.timedelta(hours=1)) == 0


def test_detection_is_registered_for_committed_captures():
    from apps.detection.services.run import detection_enqueue

    assert hooks._hooks[CAPTURE_COMMITTED_HOOK] is detection_enqueue


def test_ingestion_enqueues_one_task_per_session_after_commit(project, django_capture_on_commit_callbacks, monkeypatch):
    calls = []
    monkeypatch.setitem(hooks._hooks, CAPTURE_COMMITTED_HOOK, lambda **kwargs: calls.append(kwargs))
    items = [
        {"type": "turn", "body": {"session_id": "a", "question": "q1"}},
        {"type": "turn", "body": {"session_id": "a", "question": "q2"}},
        {"type": "turn", "body": {"session_id": "b", "question": "q3"}},
    ]

    with django_capture_on_commit_callbacks(execute=True):
        ingest_items(project=project, items=items)

    assert calls == [{"project_id": project.pk, "session_ids": {"a", "b"}, "turn_ids": set()}]


def test_enqueue_survives_a_broker_outage(project, monkeypatch):
    from apps.detection.services import run as services

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(celery_app, "send_task", refuse)

    services.detection_enqueue(project_id=project.pk, session_ids={"a"}, turn_ids=set())  # no exception


def test_enqueue_sends_the_batch_sessions_in_tasks_of_at_most_a_hundred(project, monkeypatch):
    from apps.detection.services import run as services

    sent = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, **kwargs: sent.append(kwargs["kwargs"]))
    sessions = {f"s{n:03d}" for n in range(150)}

    services.detection_enqueue(project_id=project.pk, session_ids=sessions, turn_ids=set())

    assert [len(task["session_ids"]) for task in sent] == [100, 50]
    assert sorted(s for task in sent for s in task["session_ids"]) == sorted(sessions)


def test_a_batch_of_sessions_stores_what_one_pass_per_session_stores(project, other_project):
    # Given two sessions of one user (a recurrence across them) and another session
    now = timezone.now()
    start = now - dt.timedelta(hours=1)
    make_session(project, start)
    TurnFactory(project=project, session_id="s2", end_user_id="u1", created_at=start + dt.timedelta(minutes=20),
                input="how do I reset my password", output="Open Settings and click Reset password.")
    TurnFactory(project=project, session_id="s3", end_user_id="u2", created_at=start, input="talk to a human", output="Sure.")
    for session_id in ("s1", "s2", "s3"):
        detect_session(project=project, session_id=session_id, now=now)
    one_by_one = detector_signals(project)
    Signal.objects.for_project(project).filter(source="detector").delete()
    DetectionPass.objects.for_project(project).delete()

    # When the after-commit task examines them together, twice
    created = detect_sessions(project=project, session_ids=["s1", "s2", "s3"], now=now)
    for _ in range(2):
        detect_sessions_task.apply(kwargs={"project_id": str(project.pk), "session_ids": ["s1", "s2", "s3"]})

    # Then the same signals, once each; the recurrence between s1 and s2 is among them
    assert detector_signals(project) == one_by_one
    assert created == len(one_by_one)
    assert "recurrence" in [kind for _, kind, _ in one_by_one]
    assert detector_signals(other_project) == []
