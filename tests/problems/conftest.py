"""Problems fixtures: flagged turns (a turn plus its failure signals), review verdicts, a run."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.problems.services.clustering import problems_cluster
from apps.review.models import Decision, ReviewItem, ReviewQueue
from tests.factories.traces import SignalFactory, TurnFactory


def flagged_turn(project, text: str, kinds=("thumbs_down",), *, ago=dt.timedelta(hours=1), signals=None, **fields):
    """A turn ``ago`` in the past with one signal per kind (value True, SDK) plus ``signals``:
    extra (kind, value, source) triples, e.g. a detector's tool_error finding."""
    turn = TurnFactory(project=project, input=text, created_at=timezone.now() - ago, **fields)
    for kind in kinds:
        SignalFactory(turn=turn, kind=kind, value=True, source="sdk")
    for kind, value, source in signals or ():
        SignalFactory(turn=turn, kind=kind, value=value, source=source, dedupe_key=kind)
    return turn


def decide(project, turn, verdict: str, category: str = "", *, final: bool = True) -> Decision:
    """A review vote on the turn; ``final`` makes it the item's outcome (one reviewer per item)."""
    queue, _ = ReviewQueue.objects.for_project(project).get_or_create(project=project, name="Triage")
    item, _ = ReviewItem.objects.for_project(project).get_or_create(project=project, queue=queue, turn_id=turn.id)
    if final:
        item.state = {"confirm": "confirmed", "reject": "rejected"}.get(verdict, item.state)
        item.save(update_fields=["state"])
    return Decision.objects.create(project=project, item=item, queue=queue, verdict=verdict, category=category)


def run(project, **kwargs) -> dict:
    return problems_cluster(project=project, **kwargs)


@pytest.fixture
def cluster():
    return run
