"""Datasets and the confirmed turns cases come from. A dataset takes its project from the caller;
``confirmed_turn`` makes a turn with a final confirming decision (and, optionally, a problem)."""

from __future__ import annotations

import factory
from django.utils import timezone

from apps.core.audit import SYSTEM
from apps.datasets.models import Dataset
from apps.datasets.services.changes import Author
from apps.problems.models import Problem, ProblemTurn
from apps.review.models import Decision, ItemState, ReviewItem, ReviewQueue, Verdict
from tests.factories.projects import ProjectFactory
from tests.factories.traces import TurnFactory

AUTHOR = Author(user=None, label="tests")


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dataset

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Dataset {n}")
    description = "Cases for the tests."


def queue_for(project, name: str = "Failures") -> ReviewQueue:
    queue = ReviewQueue.objects.for_project(project).filter(name=name).first()
    return queue or ReviewQueue.objects.create(project=project, name=name, routing={"signal_kinds": ["thumbs_down"]})


def confirmed_turn(project, *, reviewer=None, correction="The refund window is 30 days.", category="hallucination",
                   queue=None, problem_title: str | None = None, **turn_fields):
    """A turn, its queue item confirmed by ``reviewer`` with ``correction``; returns (turn, decision)."""
    turn = TurnFactory(project=project, history=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
                       retrieved=[{"id": "doc-1", "text": "Refunds: 14 days."}],
                       tool_calls=[{"name": "lookup_order", "result": {"status": "shipped"}}], **turn_fields)
    queue = queue or queue_for(project)
    item = ReviewItem.objects.create(project=project, queue=queue, turn_id=turn.id, state=ItemState.CONFIRMED,
                                     decided_by=[reviewer.pk] if reviewer else [])
    decision = Decision.objects.create(
        project=project, item=item, queue=queue, reviewer=reviewer, verdict=Verdict.CONFIRM, category=category,
        correction=correction, created_at=timezone.now(),
    )
    if problem_title:
        problem = Problem.objects.for_project(project).filter(title=problem_title).first() or Problem.objects.create(
            project=project, title=problem_title,
        )
        ProblemTurn.objects.create(project=project, problem=problem, turn_id=turn.id, turn_created_at=turn.created_at,
                                   affected_key=turn.end_user_id or str(turn.id))
    return turn, decision


