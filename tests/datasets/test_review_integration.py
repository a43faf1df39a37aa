"""Confirmed failures reach datasets from the review page (remembered per reviewer and queue)
and automatically through a queue's auto-add rule (applied once per turn)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.core.audit import SYSTEM
from apps.core.roles import Role
from apps.datasets.models import CaseRevision, DatasetVersion, ReviewerChoice
from apps.datasets.services.integrations import auto_add_set, decision_final
from apps.review.services import items as item_services
from apps.review.services import queues as queue_services
from tests.factories.organizations import MembershipFactory
from tests.factories.traces import SignalFactory, TurnFactory


@pytest.fixture
def queue(project):
    return queue_services.review_queue_create(project=project, actor=SYSTEM, name="Thumbs-down",
                                              routing={"signal_kinds": ["thumbs_down"]})


@pytest.fixture
def reviewer(organization, queue):
    membership = MembershipFactory(organization=organization, role=Role.REVIEWER, user__email="alice@acme.test")
    queue_services.review_queue_assign(queue=queue, membership=membership, actor=SYSTEM)
    return membership.user


def _flagged(project, count=1):
    turns = [TurnFactory(project=project) for _ in range(count)]
    for turn in turns:
        SignalFactory(turn=turn)
    item_services.review_route_turns(project=project, turn_ids=[turn.id for turn in turns])
    return turns


def _decide(queue, reviewer, verdict="confirm", correction="Refunds take 30 days."):
    item = item_services.review_item_claim_next(queue=queue, reviewer=reviewer)
    return item_services.review_item_decide(item=item, reviewer=reviewer, verdict=verdict, category="hallucination",
                                            correction=correction)


def test_a_queue_rule_adds_each_confirmed_correction_once(project, dataset, queue, reviewer):
    auto_add_set(dataset=dataset, queue=queue, split="regression", enabled=True, actor=SYSTEM)
    first, second, third = _flagged(project, 3)

    decision = _decide(queue, reviewer)
    decision_final(decision=decision)  # the hook run a second time adds nothing
    _decide(queue, reviewer, verdict="reject")
    _decide(queue, reviewer, correction="")  # confirmed without a correction: nothing to learn

    cases = list(CaseRevision.objects.for_project(project).filter(dataset=dataset))
    assert [(c.turn_id, c.split, c.expected_output, c.decision_id) for c in cases] == [
        (first.id, "regression", "Refunds take 30 days.", decision.pk)]
    assert DatasetVersion.objects.for_project(project).filter(dataset=dataset).count() == 1


def test_the_review_page_adds_on_confirm_and_remembers_the_choice(login, organization, project, dataset, queue, reviewer):
    _flagged(project, 2)
    client = login(reviewer)
    url = reverse("review_queue_review", kwargs={"org": organization.slug, "project": project.pk, "queue": queue.pk})
    page = client.get(url).content.decode()
    item = queue.items.get(state="claimed")
    turn = TurnFactory._meta.model.objects.for_project(project).get(id=item.turn_id)

    response = client.post(url, {"item": item.pk, "verdict": "confirm", "category": "hallucination",
                                 "correction": "Say 30 days.", "dataset": dataset.pk, "dataset_split": "holdout"})

    assert 'data-testid="dataset-choice"' in page
    assert response.status_code == 302
    case = CaseRevision.objects.for_project(project).get(dataset=dataset)
    assert (case.turn_id, case.expected_output, case.split, case.reviewer_email) == (turn.id, "Say 30 days.", "holdout", "alice@acme.test")
    choice = ReviewerChoice.objects.for_project(project).get(user=reviewer, queue=queue)
    assert (choice.dataset_id, choice.split) == (dataset.pk, "holdout")
    assert f'<option value="{dataset.pk}" selected>' in client.get(url).content.decode()


def test_after_a_confirm_without_a_dataset_the_a_key_form_adds_that_turn(login, organization, project, dataset, queue, reviewer):
    turn, = _flagged(project)
    client = login(reviewer)
    url = reverse("review_queue_review", kwargs={"org": organization.slug, "project": project.pk, "queue": queue.pk})
    client.get(url)
    client.post(url, {"item": queue.items.get().pk, "verdict": "confirm", "category": "hallucination", "correction": "x", "dataset": ""})

    page = client.get(url).content.decode()
    added = client.post(reverse("dataset_add_turns", kwargs={"org": organization.slug, "project": project.pk}),
                        {"turn": str(turn.id), "dataset": dataset.pk, "next": url})

    assert 'id="add-last"' in page and str(turn.id)[:8] in page
    assert added["Location"] == url
    assert CaseRevision.objects.for_project(project).get(dataset=dataset).turn_id == turn.id
    assert 'id="add-last"' not in client.get(url).content.decode()
