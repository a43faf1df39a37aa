"""The feedback widget inside a customer's iframe, and the replay page with hostile agent output."""

import time
import uuid

import pytest
from playwright.sync_api import expect

from apps.core.roles import Role
from apps.feedback.signing import make_token
from apps.traces.models import Feedback, Signal
from tests.browser.worlds import post_json
from tests.factories.accounts import PASSWORD
from tests.factories.organizations import MembershipFactory
from tests.factories.projects import api_key_with_secret

pytestmark = pytest.mark.browser
PAYLOAD = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\">"


def _post_turn(live_server, secret, body):
    return post_json(live_server.url, "/api/v1/turns", secret, body)


def test_widget_in_an_iframe_records_and_updates_feedback(page, live_server, project):
    _, secret = api_key_with_secret(project=project)
    turn = _post_turn(live_server, secret, {"question": "Refund?", "agent_response": "No idea.", "user_id": "u-7"})
    link = turn["feedback_url"].replace("http://testserver", live_server.url)  # SITE_URL in test settings
    customer_page = f"<html><body><h1>Customer app</h1><iframe id='fb' src='{link}' width=480 height=520></iframe></body></html>"
    page.route(f"{live_server.url}/customer-app", lambda route: route.fulfill(content_type="text/html", body=customer_page))

    page.goto("/customer-app")
    widget = page.frame_locator("#fb")
    widget.locator("label[for=rating-down]").click()
    widget.get_by_label("Comment").fill("It ignored my order number")
    widget.get_by_label("What should it have said?").fill("Refunds take 5 days.")
    widget.get_by_role("button", name="Send feedback").click()
    expect(widget.get_by_test_id("widget-thanks")).to_be_visible()
    widget.locator("label[for=rating-up]").click()
    with page.expect_response(lambda response: "/f/" in response.url and response.request.method == "POST"):
        widget.get_by_role("button", name="Send feedback").click()
    expect(widget.get_by_test_id("widget-thanks")).to_be_visible()

    feedback = Feedback.objects.for_project(project).get()
    assert (str(feedback.turn_id), feedback.rating, feedback.comment, feedback.correction, feedback.source) == (
        turn["id"], "up", "It ignored my order number", "Refunds take 5 days.", "widget")
    assert list(Signal.objects.for_project(project).filter(source="widget").values_list("kind", flat=True)) == ["thumbs_up"]


def test_widget_keyboard_only_and_expired_link_page(page, live_server, project):
    api_key, _ = api_key_with_secret(project=project)
    claims = {"signing_key": api_key.link_signing_key(), "key_id": api_key.key_id, "project_id": str(project.pk),
              "turn_id": str(uuid.uuid4()), "user_id": "kbd"}

    page.goto(f"/f/{make_token(exp=int(time.time()) + 600, **claims)}")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowRight")  # radio group: the second option, "Not helpful"
    page.keyboard.press("Tab")
    page.keyboard.type("typed with the keyboard")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("widget-thanks")).to_be_visible()
    response = page.goto(f"/f/{make_token(exp=int(time.time()) - 5, **claims)}")

    assert response.status == 410
    expect(page.get_by_role("heading")).to_have_text("This link has expired")
    feedback = Feedback.objects.for_project(project).get()
    assert (feedback.rating, feedback.comment) == ("down", "typed with the keyboard")


def test_replay_shows_script_payloads_as_text_and_never_runs_them(page, live_server, project):
    member = MembershipFactory(organization=project.organization, role=Role.MEMBER, user__email="viewer@acme.test")
    _, secret = api_key_with_secret(project=project)
    turn = _post_turn(live_server, secret, {
        "question": PAYLOAD, "agent_response": PAYLOAD, "session_id": "s-xss",
        "tool_calls": [{"name": "lookup", "result": PAYLOAD}], "retrieved": [{"id": "kb", "text": PAYLOAD}],
        "steps": [{"id": "a", "kind": "tool", "name": "lookup", "output": PAYLOAD, "error": PAYLOAD}],
        "signals": {"thumbs_down": True},
    })
    page.on("dialog", lambda dialog: pytest.fail(f"a dialog opened: {dialog.message}"))

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(member.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.goto(f"/orgs/{project.organization.slug}/projects/{project.pk}/turns/{turn['id']}/")

    expect(page.get_by_text(PAYLOAD).first).to_be_visible()
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main script").count() == 0
    assert page.locator("main img[src='x']").count() == 0
    page.goto(f"/orgs/{project.organization.slug}/projects/{project.pk}/turns/")
    assert page.evaluate("window.__pwned") is None
    page.screenshot(path="/tmp/browser-explorer.png", full_page=True)
