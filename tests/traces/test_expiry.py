import datetime as dt
import uuid

import pytest
from django.utils import timezone

from apps.traces.models import Feedback, Signal, Step, Turn
from apps.traces.tasks import expire_waiting

pytestmark = pytest.mark.django_db


def _children(project, turn_id, expires_at):
    Feedback.objects.create(project=project, id=uuid.uuid4(), turn_id=turn_id, rating="down", expires_at=expires_at)
    Signal.objects.create(project=project, turn_id=turn_id, kind="thumbs_down", value=True, expires_at=expires_at)
    Step.objects.create(project=project, turn_id=turn_id, span_id="s1", expires_at=expires_at)


def test_expired_waiting_children_are_deleted_and_everything_else_stays(project, other_project):
    past = timezone.now() - dt.timedelta(minutes=1)
    future = timezone.now() + dt.timedelta(days=1)
    orphan, fresh_orphan, landed = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    Turn.objects.create(project=project, id=landed, input="q", expires_at=future)
    _children(project, orphan, past)
    _children(project, fresh_orphan, future)
    _children(project, landed, past)
    _children(other_project, orphan, future)

    expire_waiting.apply()
    expire_waiting.apply()

    for model in (Feedback, Signal, Step):
        assert sorted(model.objects.for_project(project).values_list("turn_id", flat=True)) == sorted([fresh_orphan, landed])
        assert list(model.objects.for_project(other_project).values_list("turn_id", flat=True)) == [orphan]


def test_stale_waiting_flags_are_not_listed_and_the_task_clears_them(project):
    """A child and its turn committed at the same moment can leave the child flagged: the
    waiting page never lists it (the turn is checked), and the periodic task clears the flag."""
    from apps.traces.selectors import waiting_counts

    future = timezone.now() + dt.timedelta(days=1)
    landed, orphan = uuid.uuid4(), uuid.uuid4()
    Turn.objects.create(project=project, id=landed, input="q", expires_at=future)
    _children(project, landed, future)
    _children(project, orphan, future)
    for model in (Feedback, Signal, Step):
        model.objects.for_project(project).update(waiting=True)

    assert waiting_counts(project=project) == {"feedback": 1, "signals": 1, "steps": 1}

    expire_waiting.apply()
    expire_waiting.apply()

    for model in (Feedback, Signal, Step):
        flags = dict(model.objects.for_project(project).values_list("turn_id", "waiting"))
        assert flags == {landed: False, orphan: True}
    assert waiting_counts(project=project) == {"feedback": 1, "signals": 1, "steps": 1}
