"""Captured data. A child (step, signal, feedback) takes its project and turn id from ``turn``;
for one waiting for its turn pass ``turn=None, project=…, turn_id=…``."""

import uuid

import factory
from django.utils import timezone

from apps.traces.models import Feedback, Signal, Step, Turn
from tests.factories.projects import ProjectFactory


class TurnFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Turn

    id = factory.LazyFunction(uuid.uuid4)
    project = factory.SubFactory(ProjectFactory)
    session_id = factory.Sequence(lambda n: f"session-{n}")
    end_user_id = factory.Sequence(lambda n: f"user-{n}")
    input = factory.Sequence(lambda n: f"Question number {n}?")
    output = factory.Sequence(lambda n: f"Answer number {n}.")
    created_at = factory.LazyFunction(timezone.now)


class _TurnChildFactory(factory.django.DjangoModelFactory):
    class Meta:
        abstract = True
        exclude = ["turn"]

    turn = factory.SubFactory(TurnFactory)
    project = factory.LazyAttribute(lambda o: o.turn.project)
    turn_id = factory.LazyAttribute(lambda o: o.turn.id)
    waiting = factory.LazyAttribute(lambda o: o.turn is None)  # stored before its turn, as ingestion flags it


class StepFactory(_TurnChildFactory):
    class Meta:
        model = Step

    span_id = factory.Sequence(lambda n: f"span{n:04d}")
    kind = "llm"
    name = factory.Sequence(lambda n: f"step {n}")


class SignalFactory(_TurnChildFactory):
    class Meta:
        model = Signal

    kind = "thumbs_down"
    value = True
    source = "sdk"


class FeedbackFactory(_TurnChildFactory):
    class Meta:
        model = Feedback

    id = factory.LazyFunction(uuid.uuid4)
    rating = "down"
    source = "sdk"
