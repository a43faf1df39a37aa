"""N reviewers per item: distinct reviewers, the majority outcome, ties, blind review, agreement."""

import pytest

from apps.core.errors import Conflict, ValidationFailed
from apps.core.audit import SYSTEM
from apps.review import selectors
from apps.review.agreement import agreement_summary, fleiss_kappa
from apps.review.models import Decision, ItemState, ReviewItem
from apps.review.services import items as item_services
from apps.review.services import queues as queue_services
from apps.traces.models import ReviewState, Turn
from tests.factories.traces import TurnFactory
from tests.review.conftest import make_reviewer

pytestmark = pytest.mark.django_db


@pytest.fixture
def panel(project, queue):
    """Three reviewers assigned to the (first-level) queue."""
    return [make_reviewer(project.organization, f"{name}@acme.test", queue).user for name in ("ann", "ben", "cat")]


def _item(project, queue, **kwargs):
    return ReviewItem.objects.create(project=project, queue=queue, turn_id=TurnFactory(project=project).id, **kwargs)


def _vote(queue, reviewer, verdict, expected_item, **kwargs):
    item = item_services.review_item_claim_next(queue=queue, reviewer=reviewer)
    assert item is not None and item.pk == expected_item.pk
    category = kwargs.pop("category", "hallucination" if verdict == "confirm" else "")
    return item_services.review_item_decide(item=item, reviewer=reviewer, verdict=verdict, category=category, **kwargs)


def _state(item):
    item.refresh_from_db()
    return item.state


def _review_state(project, item):
    return Turn.objects.for_project(project).get(id=item.turn_id).review_state


def test_an_item_returns_to_the_queue_until_n_distinct_reviewers_decided(project, queue, panel):
    queue_services.review_queue_update(queue=queue, actor=SYSTEM, reviewers_per_item=3)
    ann, ben, cat = panel
    item = _item(project, queue)
    Turn.objects.for_project(project).filter(id=item.turn_id).update(review_state=ReviewState.QUEUED)

    _vote(queue, ann, "confirm", item)
    after_one = (_state(item), item_services.review_item_claim_next(queue=queue, reviewer=ann), _review_state(project, item))
    _vote(queue, ben, "reject", item)
    after_two = (_state(item), item_services.review_item_claim_next(queue=queue, reviewer=ben))
    _vote(queue, cat, "confirm", item)

    assert after_one == (ItemState.PENDING, None, ReviewState.QUEUED)
    assert after_two == (ItemState.PENDING, None)
    assert _state(item) == ItemState.CONFIRMED
    assert _review_state(project, item) == ReviewState.REVIEWED
    item.refresh_from_db()
    assert item.decided_by == [ann.pk, ben.pk, cat.pk]
    assert list(Decision.objects.for_project(project).filter(item=item).order_by("id").values_list("reviewer_id", "verdict")) == [
        (ann.pk, "confirm"), (ben.pk, "reject"), (cat.pk, "confirm")]


def test_a_reviewer_never_gets_an_item_they_decided_and_moves_on_to_the_next(project, queue, panel):
    queue_services.review_queue_update(queue=queue, actor=SYSTEM, reviewers_per_item=2)
    ann, ben, _ = panel
    first, second = _item(project, queue, priority=9), _item(project, queue)

    _vote(queue, ann, "reject", first)
    ann_next = item_services.review_item_claim_next(queue=queue, reviewer=ann)
    ben_next = item_services.review_item_claim_next(queue=queue, reviewer=ben)

    assert (ann_next.pk, ben_next.pk) == (second.pk, first.pk)


def test_only_one_reviewer_holds_a_multi_review_item_at_a_time(project, queue, panel):
    queue_services.review_queue_update(queue=queue, actor=SYSTEM, reviewers_per_item=3)
    ann, ben, _ = panel
    item = _item(project, queue)

    held = item_services.review_item_claim_next(queue=queue, reviewer=ann)
    other = item_services.review_item_claim_next(queue=queue, reviewer=ben)

    assert (held.pk, other) == (item.pk, None)
    with pytest.raises(Conflict) as refused:
        item_services.review_item_decide(item=item, reviewer=ben, verdict="reject")
    assert refused.value.code == "not_claimed"


def test_a_tie_escalates_to_the_second_level_with_the_tally(project, queue, second_level, panel):
    queue_services.review_queue_update(queue=queue, actor=SYSTEM, reviewers_per_item=2)
    ann, ben, _ = panel
    item = _item(project, queue, priority=3)

    _vote(queue, ann, "confirm", item)
    _vote(queue, ben, "reject", item)

    assert _state(item) == ItemState.ESCALATED
    moved = ReviewItem.objects.for_project(project).get(queue=second_level)
    assert (moved.turn_id, moved.priority, moved.state, moved.note) == (
        item.turn_id, 3, ItemState.PENDING, "Reviewers disagreed in Thumbs-down (confirm 1, reject 1).")
    assert _review_state(project, item) != ReviewState.REVIEWED


def test_a_tie_without_a_second_level_waits_for_an_admin_who_assigns_a_tie_breaker(project, second_level, organization):
    queue_services.review_queue_update(queue=second_level, actor=SYSTEM, reviewers_per_item=2)
    ann, ben, cat = (make_reviewer(organization, f"{n}@acme.test", second_level) for n in ("ann", "ben", "cat"))
    item = _item(project, second_level)

    _vote(second_level, ann.user, "confirm", item)
    _vote(second_level, ben.user, "reject", item)
    disputed = _state(item)
    with pytest.raises(ValidationFailed) as refused:
        item_services.review_item_assign(item=item, membership=ann, actor=SYSTEM)
    item_services.review_item_assign(item=item, membership=cat, actor=SYSTEM)
    reopened = _state(item)
    _vote(second_level, cat.user, "reject", item)

    assert (disputed, refused.value.code, reopened) == (ItemState.DISPUTED, "already_decided", ItemState.PENDING)
    assert _state(item) == ItemState.REJECTED
    assert _review_state(project, item) == ReviewState.REVIEWED


def test_a_majority_escalation_carries_the_escalation_notes(project, queue, second_level, panel):
    queue_services.review_queue_update(queue=queue, actor=SYSTEM, reviewers_per_item=3)
    ann, ben, cat = panel
    item = _item(project, queue)

    _vote(queue, ann, "escalate", item, notes="legal?")
    _vote(queue, ben, "reject", item)
    _vote(queue, cat, "escalate", item, notes="refund law")

    assert _state(item) == ItemState.ESCALATED
    assert ReviewItem.objects.for_project(project).get(queue=second_level).note == "legal?\nrefund law"


def test_with_one_reviewer_per_item_a_decision_is_final_at_once(project, queue, panel):
    ann = panel[0]
    item = _item(project, queue)

    _vote(queue, ann, "skip", item)

    assert _state(item) == ItemState.SKIPPED


def test_blind_queues_hide_earlier_verdicts_until_the_outcome_is_final(project, queue, panel):
    queue = queue_services.review_queue_update(queue=queue, actor=SYSTEM, reviewers_per_item=2, blind=True)
    ann, ben, _ = panel
    item = _item(project, queue)
    _vote(queue, ann, "reject", item)
    item.refresh_from_db()

    while_open = selectors.review_decisions_visible(queue=queue, item=item)
    _vote(queue, ben, "reject", item)
    item.refresh_from_db()

    assert (while_open, selectors.review_decisions_visible(queue=queue, item=item)) == (False, True)
    queue = queue_services.review_queue_update(queue=queue, actor=SYSTEM, blind=False)
    assert selectors.review_decisions_visible(queue=queue, item=_item(project, queue)) is True


@pytest.mark.parametrize("bad", [0, 6])
def test_reviewers_per_item_is_between_one_and_five(project, queue, bad):
    with pytest.raises(ValidationFailed) as refused:
        queue_services.review_queue_update(queue=queue, actor=SYSTEM, reviewers_per_item=bad)

    assert refused.value.field == "reviewers_per_item"
    queue.refresh_from_db()
    assert queue.reviewers_per_item == 1


# --- agreement ---------------------------------------------------------------------------------


def test_fleiss_kappa_on_the_textbook_example():
    # Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories: κ = 0.210.
    rows = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]

    kappa = fleiss_kappa([{f"c{j}": n for j, n in enumerate(row) if n} for row in rows])

    assert round(kappa, 3) == 0.210


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([], {"items": 0, "unanimous_percent": None, "kappa": None}),
        ([{"confirm": 1}], {"items": 0, "unanimous_percent": None, "kappa": None}),
        # Perfect agreement across two verdicts: κ = 1.
        ([{"confirm": 2}, {"reject": 2}], {"items": 2, "unanimous_percent": 100.0, "kappa": 1.0}),
        # Everyone always says confirm: chance agreement is 1, κ undefined.
        ([{"confirm": 2}, {"confirm": 3}], {"items": 2, "unanimous_percent": 100.0, "kappa": None}),
        # Systematic disagreement: P̄ = 0, P_e = 0.5, κ = -1.
        ([{"confirm": 1, "reject": 1}, {"confirm": 1, "reject": 1}], {"items": 2, "unanimous_percent": 0.0, "kappa": -1.0}),
        # One agreement, one split: P̄ = 0.5, p = (3/4, 1/4), P_e = 0.625, κ = -1/3.
        ([{"confirm": 2}, {"confirm": 1, "reject": 1}], {"items": 2, "unanimous_percent": 50.0, "kappa": -0.333}),
    ],
)
def test_agreement_summary_on_labelled_examples(items, expected):
    assert agreement_summary(items) == expected


def test_queue_agreement_counts_only_items_with_two_or_more_decisions(project, queue, second_level, panel):
    queue_services.review_queue_update(queue=queue, actor=SYSTEM, reviewers_per_item=2)
    ann, ben, _ = panel
    agreed, split, single = _item(project, queue, priority=3), _item(project, queue, priority=2), _item(project, queue, priority=1)
    _vote(queue, ann, "confirm", agreed)
    _vote(queue, ben, "confirm", agreed)
    _vote(queue, ann, "confirm", split)
    _vote(queue, ben, "reject", split)
    _vote(queue, ann, "reject", single)

    agreement = selectors.review_queue_agreement(project=project, queues=[queue, second_level])

    assert agreement == {
        queue.pk: {"items": 2, "unanimous_percent": 50.0, "kappa": -0.333},
        second_level.pk: {"items": 0, "unanimous_percent": None, "kappa": None},
    }
