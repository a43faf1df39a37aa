"""Many reviewers claiming at once against real PostgreSQL: nobody ever holds the same item."""

import threading
from collections import Counter

import pytest
from django.db import connection

from apps.review.models import ItemState, ReviewItem
from apps.review.services import items as item_services
from apps.review.services import queues as queue_services
from tests.factories.traces import TurnFactory
from tests.review.conftest import make_reviewer

THREADS = 16
ITEMS = 120


def _work_the_queue(queue, reviewers, on_claim) -> list[BaseException]:
    """Every reviewer in its own thread (own connection), started together: claim, report the
    claim through ``on_claim(item, user)``, decide "reject", until the queue is empty."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(reviewers))

    def work(user):
        try:
            start.wait()
            while (item := item_services.review_item_claim_next(queue=queue, reviewer=user)) is not None:
                on_claim(item, user)
                # Finish it so the next call claims a new item instead of returning the held one.
                item_services.review_item_decide(item=item, reviewer=user, verdict="reject")
        except BaseException as error:  # noqa: BLE001 - reported by the caller's assertion
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(user,)) for user in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_hand_out_an_item_twice(project, queue):
    for _ in range(ITEMS):
        ReviewItem.objects.create(project=project, queue=queue, turn_id=TurnFactory(project=project).id)
    reviewers = [make_reviewer(project.organization, f"r{i}@acme.test", queue).user for i in range(THREADS)]
    claimed: list[tuple[int, int]] = []
    lock = threading.Lock()

    def on_claim(item, user):
        with lock:
            claimed.append((item.pk, user.pk))

    errors = _work_the_queue(queue, reviewers, on_claim)

    assert errors == []
    assert len(claimed) == ITEMS
    assert [pk for pk, count in Counter(pk for pk, _ in claimed).items() if count > 1] == []
    assert ReviewItem.objects.for_project(project).filter(state=ItemState.REJECTED).count() == ITEMS
    assert len({user for _, user in claimed}) > 1


MULTI_ITEMS = 40
PER_ITEM = 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_with_several_reviewers_per_item(project, queue):
    """Three reviewers per item: each item is held by one reviewer at a time, decided by three
    distinct reviewers, and nobody decides the same item twice."""
    from apps.core.audit import SYSTEM
    from apps.review.models import Decision

    queue = queue_services.review_queue_update(queue=queue, actor=SYSTEM, reviewers_per_item=PER_ITEM)
    for _ in range(MULTI_ITEMS):
        ReviewItem.objects.create(project=project, queue=queue, turn_id=TurnFactory(project=project).id)
    reviewers = [make_reviewer(project.organization, f"m{i}@acme.test", queue).user for i in range(THREADS)]
    held: dict[int, int] = {}
    double_holds: list[tuple[int, int, int]] = []
    claims: list[tuple[int, int]] = []
    lock = threading.Lock()

    def on_claim(item, user):
        with lock:
            if item.pk in held:
                double_holds.append((item.pk, held[item.pk], user.pk))
            held[item.pk] = user.pk
            claims.append((item.pk, user.pk))
        with lock:  # released before the decision commits: only then may someone else claim it
            held.pop(item.pk, None)

    errors = _work_the_queue(queue, reviewers, on_claim)

    assert errors == []
    assert double_holds == []
    assert [pair for pair, count in Counter(claims).items() if count > 1] == []
    assert len(claims) == MULTI_ITEMS * PER_ITEM
    per_item = Counter(Decision.objects.for_project(project).values_list("item_id", flat=True))
    assert set(per_item.values()) == {PER_ITEM}
    pairs = list(Decision.objects.for_project(project).values_list("item_id", "reviewer_id"))
    assert len(set(pairs)) == len(pairs) == MULTI_ITEMS * PER_ITEM
    assert ReviewItem.objects.for_project(project).filter(state=ItemState.REJECTED).count() == MULTI_ITEMS
