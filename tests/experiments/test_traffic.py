"""A version's traffic: turns with prompt_version "<name>@<n>" since the version first got a label,
signal rates, confirmed failures, beside the previous version's."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from apps.experiments.selectors.prompts import prompt_version_get
from apps.experiments.selectors.traffic import version_traffic_compared
from apps.experiments.services.labels import prompt_label_move
from apps.review.models import ItemState, ReviewItem, ReviewQueue
from tests.factories.experiments import AUTHOR, prompt_version
from tests.factories.traces import SignalFactory, TurnFactory

NOW = timezone.now()


def test_traffic_counts_since_the_label_and_compares_with_the_previous_version(project, other_project):
    first = prompt_version(project=project, created_at=NOW - dt.timedelta(days=10))
    prompt = first.prompt
    prompt_version(project=project, created_at=NOW - dt.timedelta(days=5))
    prompt_label_move(prompt=prompt, name="production", version=1, author=AUTHOR, role=None, at=NOW - dt.timedelta(days=9))
    prompt_label_move(prompt=prompt, name="production", version=2, author=AUTHOR, role=None, at=NOW - dt.timedelta(days=4))
    queue = ReviewQueue.all_tenants.create(project=project, name="q")
    TurnFactory(project=project, prompt_version="support-agent@2", created_at=NOW - dt.timedelta(days=4, hours=2))  # before its label
    for number, kinds, confirmed in (
        (2, ["thumbs_down", "escalation"], True), (2, ["rephrase"], False), (2, [], False), (2, ["thumbs_down"], False),
        (1, ["agent_punted"], False), (1, [], True),
    ):
        turn = TurnFactory(project=project, prompt_version=f"support-agent@{number}", created_at=NOW - dt.timedelta(days=3))
        for kind in kinds:
            SignalFactory(turn=turn, kind=kind)
        if confirmed:
            ReviewItem.all_tenants.create(project=project, queue=queue, turn_id=turn.id, state=ItemState.CONFIRMED)
    SignalFactory(turn=TurnFactory(project=project, prompt_version="support-agent@2"), kind="thumbs_down", value=False)
    TurnFactory(project=other_project, prompt_version="support-agent@2")

    current, previous = version_traffic_compared(version=prompt_version_get(prompt=prompt, number=2))

    assert (current.turns, current.since_label, current.confirmed, current.confirmed_rate) == (5, "production", 1, 0.2)
    assert {r.kind: (r.count, r.rate) for r in current.rates} == {
        "thumbs_down": (1 + 1, 0.4), "rephrase": (1, 0.2), "escalation": (1, 0.2), "agent_punted": (0, 0.0), "abandonment": (0, 0.0),
    }
    assert (previous.number, previous.turns, previous.confirmed) == (1, 2, 1)
    assert {r.kind: r.count for r in previous.rates}["agent_punted"] == 1


def test_a_version_without_a_label_counts_since_it_was_created(project):
    version = prompt_version(project=project, created_at=NOW - dt.timedelta(days=1))
    TurnFactory(project=project, prompt_version="support-agent@1", created_at=NOW - dt.timedelta(days=2))
    TurnFactory(project=project, prompt_version="support-agent@1")

    current, previous = version_traffic_compared(version=version)

    assert (current.turns, current.since_label, previous) == (1, "", None)
    assert current.rates[0].rate == 0.0
