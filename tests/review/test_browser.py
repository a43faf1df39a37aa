"""Working a queue with the keyboard only: ? shows the shortcuts, 1 picks a category, c confirms,
r rejects, e escalates with a note, n skips, and the queue ends empty."""

import pytest
from playwright.sync_api import expect

from apps.review import services
from apps.review.models import Decision, ItemState, ReviewItem
from tests.browser.conftest import browser, page  # noqa: F401 - the browser fixtures
from tests.factories.accounts import PASSWORD
from tests.factories.traces import SignalFactory, TurnFactory
from tests.review.conftest import make_reviewer

pytestmark = pytest.mark.browser


def test_a_reviewer_works_a_queue_with_the_keyboard_only(page, project, queue, second_level):  # noqa: F811
    reviewer = make_reviewer(project.organization, "keys@acme.test", queue)
    turns = [TurnFactory(project=project, input=f"Question {i} about refunds") for i in range(4)]
    for turn in turns:
        SignalFactory(turn=turn, kind="thumbs_down")
    services.review_route_turns(project=project, turn_ids=[t.pk for t in turns])

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(reviewer.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/orgs/**")
    page.goto(f"/orgs/{project.organization.slug}/projects/{project.pk}/queues/{queue.pk}/review/")

    expect(page.get_by_test_id("review-item")).to_be_visible()
    page.keyboard.press("?")
    expect(page.get_by_test_id("shortcuts")).to_be_visible()
    page.screenshot(path="/tmp/browser-review-shortcuts.png")
    page.keyboard.press("?")
    page.screenshot(path="/tmp/browser-review.png", full_page=True)
    expect(page.get_by_test_id("shortcuts")).to_be_hidden()

    seen = []
    for keys in (["1", "c"], ["r"], ["o", "type:needs legal", "Escape", "e"], ["n"]):
        item = page.get_by_test_id("review-item")
        current = item.get_attribute("data-item")
        seen.append(int(current))
        expect(page.get_by_test_id("turn-input")).to_be_visible()
        for key in keys:
            if key.startswith("type:"):
                page.keyboard.type(key[5:])
            else:
                page.keyboard.press(key)
        page.wait_for_function(
            "id => !document.querySelector(`[data-item=\"${id}\"]`)", arg=current
        )

    expect(page.get_by_test_id("queue-empty")).to_be_visible()
    states = dict(ReviewItem.objects.for_project(project).filter(queue=queue).values_list("pk", "state"))
    assert [states[pk] for pk in seen] == [ItemState.CONFIRMED, ItemState.REJECTED, ItemState.ESCALATED, ItemState.SKIPPED]
    confirmed = Decision.objects.for_project(project).get(item_id=seen[0])
    assert confirmed.category == "hallucination"
    escalated = ReviewItem.objects.for_project(project).get(queue=second_level)
    assert escalated.note == "needs legal"
