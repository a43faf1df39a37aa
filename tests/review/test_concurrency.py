"""Many reviewers claiming at once against real PostgreSQL: nobody ever holds the same item."""

import threading
from collections import Counter

import pytest
from django.db import connection

from apps.review import services
from apps.review.models import ItemState, ReviewItem
from tests.factories.traces import TurnFactory
from tests.review.conftest import make_reviewer

THREADS = 16
ITEMS = 120


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_hand_out_an_item_twice(project, queue):
    for _ in range(ITEMS):
        ReviewItem.objects.create(project=project, queue=queue, turn_id=TurnFactory(project=project).pk)
    reviewers = [make_reviewer(project.organization, f"r{i}@acme.test", queue).user for i in range(THREADS)]
    claimed: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def work(user):
        try:
            start.wait()
            while True:
                item = services.review_item_claim_next(queue=queue, reviewer=user)
                if item is None:
                    return
                with lock:
                    claimed.append((item.pk, user.pk))
                # Finish it so the next call claims a new item instead of returning the held one.
                services.review_item_decide(item=item, reviewer=user, verdict="reject")
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(user,)) for user in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(claimed) == ITEMS
    assert [pk for pk, count in Counter(pk for pk, _ in claimed).items() if count > 1] == []
    assert ReviewItem.objects.for_project(project).filter(state=ItemState.REJECTED).count() == ITEMS
    assert len({user for _, user in claimed}) > 1
