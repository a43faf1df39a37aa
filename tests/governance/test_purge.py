"""The one door for deleting turns: children go with their turn, a tombstone stays, the other
project and the turns not chosen are untouched, and a second call finds nothing to do."""

import pytest

from apps.detection.models import DetectionPass
from apps.governance.purge import purge_turns
from apps.traces.models import Feedback, Signal, Step, Turn, TurnTombstone
from apps.traces.selectors import tombstones_for
from tests.factories.traces import FeedbackFactory, SignalFactory, StepFactory, TurnFactory

pytestmark = pytest.mark.django_db


def _turn_with_children(project):
    turn = TurnFactory(project=project)
    StepFactory(turn=turn)
    StepFactory(turn=turn)
    SignalFactory(turn=turn)
    FeedbackFactory(turn=turn)
    DetectionPass.objects.create(project=project, turn_id=turn.id)
    return turn


def _count(model, project, turn):
    field = "id" if model is Turn else "turn_id"
    return model.objects.for_project(project).filter(**{field: turn.id}).count()


def test_purge_deletes_turns_with_children_and_leaves_tombstones(project, other_project):
    gone, kept = _turn_with_children(project), _turn_with_children(project)
    # The same UUID in another project is another turn: it must survive.
    twin = TurnFactory(project=other_project, id=gone.id)
    SignalFactory(turn=twin)

    counts = purge_turns(project=project, turns=Turn.objects.for_project(project).filter(id=gone.id), reason="retention")

    assert counts == {"turns": 1, "steps": 2, "signals": 1, "feedback": 1, "detection_passes": 1}
    for model in (Turn, Step, Signal, Feedback, DetectionPass):
        assert _count(model, project, gone) == 0
        assert _count(model, project, kept) == (2 if model is Step else 1)
    assert _count(Turn, other_project, twin) == 1 and _count(Signal, other_project, twin) == 1
    tombstone = tombstones_for(project=project, turn_ids=[gone.id, kept.id])
    assert list(tombstone) == [gone.id]
    assert tombstone[gone.id].reason == "retention" and tombstone[gone.id].turn_created_at == gone.created_at
    assert tombstones_for(project=other_project, turn_ids=[gone.id]) == {}


def test_purge_twice_is_a_no_op(project):
    turn = _turn_with_children(project)
    chosen = Turn.objects.for_project(project).filter(id=turn.id)

    assert purge_turns(project=project, turns=chosen, reason="end_user")["turns"] == 1
    assert purge_turns(project=project, turns=chosen, reason="end_user") == {}
    assert TurnTombstone.objects.for_project(project).count() == 1
