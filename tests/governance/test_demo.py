"""The demo's retention: a deletion history made by running the job on backdated turns, turns
due on the next run, a held old turn; seeding twice changes nothing."""

import pytest

from apps.demo.retention import DUE_NEXT_RUN, EXPIRED_PER_RUN, HELD_TURN, seed_retention_demo
from apps.governance.expiry import expiry_preview, turn_retention_status
from apps.governance.models import ExpiryDay
from apps.traces.models import Turn, TurnTombstone
from tests.factories.datasets import queue_for

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_deletion_history_a_preview_and_a_held_turn(project):
    queue_for(project, "Failures")

    first = seed_retention_demo(project=project)
    again = seed_retention_demo(project=project)

    assert first == again
    assert [turns for _, turns in first["history"]] == list(EXPIRED_PER_RUN)
    assert ExpiryDay.objects.for_project(project).count() == 3
    assert TurnTombstone.objects.for_project(project).count() == sum(EXPIRED_PER_RUN)
    preview = expiry_preview(project=project)
    assert (preview.deletes, preview.held) == (DUE_NEXT_RUN, 1)
    held = Turn.objects.for_project(project).get(id=HELD_TURN)
    assert [hold["label"] for hold in turn_retention_status(project=project, turn=held)["holds"]] == ["in queue Failures"]
