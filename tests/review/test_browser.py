"""Working a queue with the keyboard only: ? shows the shortcuts, 1 picks a category, c confirms,
r rejects, e escalates with a note, n skips, and the queue ends empty."""

import os
import threading

import pytest
from playwright.sync_api import expect, sync_playwright

from apps.review.models import Decision, ItemState, ReviewItem
from apps.review.services import items as item_services
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, _unavailable
from tests.factories.accounts import PASSWORD
from tests.factories.traces import SignalFactory, TurnFactory
from tests.review.conftest import make_reviewer

pytestmark = pytest.mark.browser


def _in_browser(live_server, body) -> None:
    """Run ``body(page)`` with its own Playwright in a worker thread.

    tests/browser's session-scoped browser is not visible here, and a second sync Playwright
    cannot start in the thread whose event loop the first one owns.
    """
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"{CHROMIUM} is missing; install it with `apt-get install -y chromium`")
    failures: list[BaseException] = []

    def run():
        from django.db import connection

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
                context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
                context.set_default_timeout(15_000)
                try:
                    body(context.new_page())
                finally:
                    browser.close()
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
            failures.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


def test_a_reviewer_works_a_queue_with_the_keyboard_only(live_server, transactional_db, project, queue, second_level):
    reviewer = make_reviewer(project.organization, "keys@acme.test", queue)
    turns = [TurnFactory(project=project, input=f"Question {i} about refunds") for i in range(4)]
    for turn in turns:
        SignalFactory(turn=turn, kind="thumbs_down")
    item_services.review_route_turns(project=project, turn_ids=[t.id for t in turns])
    seen = []

    def work(page):
        _work_queue(page, project, queue, reviewer, seen)

    _in_browser(live_server, work)

    states = dict(ReviewItem.objects.for_project(project).filter(queue=queue).values_list("pk", "state"))
    assert [states[pk] for pk in seen] == [ItemState.CONFIRMED, ItemState.REJECTED, ItemState.ESCALATED, ItemState.SKIPPED]
    confirmed = Decision.objects.for_project(project).get(item_id=seen[0])
    assert confirmed.category == "hallucination"
    escalated = ReviewItem.objects.for_project(project).get(queue=second_level)
    assert escalated.note == "needs legal"


def _work_queue(page, project, queue, reviewer, seen) -> None:
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
