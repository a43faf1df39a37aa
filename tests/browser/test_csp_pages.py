"""The demo under its Content-Security-Policy in Chromium: no page raises a violation, and the UI still works.

Every HTML page of the README's demo organization (tests/browser/walk.py) is loaded with the policy
enforced; the browser reports each blocked script, style or resource as a securitypolicyviolation
event, which an init script records. Then the interactive parts: htmx loads and filters, the
review page's shortcuts, confirmations, the step timeline's geometry and Swagger UI (the widget
framed by a customer's page: test_widget_and_replay.py).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.projects.models import Project
from apps.review.models import Decision
from tests.browser.conftest import SUMMARY
from tests.browser.walk import ACCOUNT_PATHS, ANONYMOUS_PATHS, Walker, admin_paths, route_paths, walk
from tests.browser.worlds import demo_world
from tests.factories.accounts import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(live_server, transactional_db, tmp_path, monkeypatch):
    return demo_world(base_url=live_server.url, data_dir=tmp_path, monkeypatch=monkeypatch)


def test_no_page_of_the_demo_raises_a_csp_violation(browser, live_server, demo, operator):
    walkers = {role: Walker(browser, live_server.url) for role in ("anonymous", "owner", "operator")}
    try:
        visits = walk(walkers["anonymous"], ANONYMOUS_PATHS + [f"/f/{token}" for token in demo.tokens["feedback_widget"]])
        walkers["owner"].login(demo.email, demo.password)
        visits += walk(walkers["owner"], route_paths(demo) + ACCOUNT_PATHS)
        walkers["operator"].login(operator.email, PASSWORD)
        visits += walk(walkers["operator"], admin_paths())
    finally:
        for walker in walkers.values():
            walker.close()

    violations = {visit.path: visit.violations for visit in visits if visit.violations}
    errors = {visit.path: visit.console_errors for visit in visits if visit.console_errors}
    failed = [visit.path for visit in visits if visit.status >= 500]
    SUMMARY["csp"] = f"CSP: {len(visits)} pages, {sum(map(len, violations.values()))} violations, {len(failed)} server errors"
    assert violations == {}
    assert errors == {}
    assert failed == []
    assert len(visits) >= 60


def test_htmx_shortcuts_confirmations_timeline_and_api_docs_work_under_the_policy(browser, live_server, demo):
    walker = Walker(browser, live_server.url)
    page = walker.page
    project = Project.all_tenants.get(pk=demo.values["project"][0])  # unscoped: the demo names its project
    base = f"/orgs/{demo.values['org'][0]}/projects/{project.pk}"
    walker.login(demo.email, demo.password)

    # the capture counts arrive through hx-trigger="load"
    page.goto(f"{base}/")
    expect(page.get_by_test_id("turns-total")).to_have_text(re.compile(r"^[1-9]\d*$"))

    # the backlog filter swaps the table through hx-get on change
    page.goto(f"{base}/problems/")
    rows_open = page.get_by_test_id("problem-row").count()
    with page.expect_response(lambda response: "status=all" in response.url):
        page.get_by_test_id("status-filter").select_option("all")
    expect(page).to_have_url(re.compile(r"status=all"))
    assert page.get_by_test_id("problem-row").count() >= rows_open > 0

    # the replay's step bars get their geometry from data attributes
    page.goto(f"{base}/turns/{demo.values['turn'][0]}/")
    bar = page.locator(".step-bar").first
    assert bar.evaluate("element => parseFloat(element.style.width)") == float(bar.get_attribute("data-bar-width"))
    assert bar.bounding_box()["width"] > 0

    # the review page's keyboard shortcut submits a decision
    queue = demo.values["queue"][0]
    decided = Decision.objects.for_project(project).count()
    page.goto(f"{base}/queues/{queue}/review/")
    page.keyboard.press("?")
    expect(page.get_by_test_id("shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    with page.expect_navigation():
        page.keyboard.press("r")
    expect(page.get_by_text("Nothing to review").or_(page.get_by_test_id("review-item"))).to_be_visible()
    assert Decision.objects.for_project(project).count() == decided + 1

    # a cancelled confirmation keeps the key (the walker dismisses every dialog)
    page.goto(f"{base}/keys/")
    page.get_by_role("button", name="Revoke").first.click()
    expect(page.get_by_test_id("api-keys")).to_contain_text("active")
    page.screenshot(path="/tmp/browser-csp-keys.png", full_page=True)

    # Swagger UI starts from its split-out initialiser and lists the operations
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("AgentLoop API")
    expect(page.locator(".opblock").first).to_be_visible()
    walker.close()

    assert walker.dialogs[-1].endswith("Revoke demo SDK? Anything using it stops working immediately.")
    assert walker.console == []
