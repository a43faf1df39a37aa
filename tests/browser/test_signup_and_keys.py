"""A newcomer's first minutes in a real browser: sign up, make a project, create and revoke a key."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/browser-keys.png"


def _auth_check(base_url: str, secret: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base_url}/api/v1/auth/check", headers={"Authorization": f"Bearer {secret}", "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_signup_create_project_and_api_key_then_revoke_it(page: Page, live_server, transactional_db):
    # Given a visitor on the sign-up page
    page.goto("/accounts/signup/")

    # when they sign up with an organization name, e-mail and password
    page.get_by_label("Organization name").fill("Browser Test Co")
    page.get_by_label("Email").fill("newcomer@browser.test")
    page.get_by_label(re.compile(r"^Password:?$")).fill("a-long-browser-pass-42")
    page.get_by_label("Password (again)").fill("a-long-browser-pass-42")
    page.get_by_role("main").get_by_role("button", name="Sign Up").click()

    # then they land in their new organization, as its owner
    expect(page).to_have_url(re.compile(r"/orgs/[-a-z0-9]+/$"))
    main = page.get_by_role("main")
    expect(main.get_by_role("heading", level=1)).to_have_text("Browser Test Co")
    expect(main.locator(".page-head")).to_contain_text("You are owner")
    org_slug = page.url.rstrip("/").rsplit("/", 1)[1]

    # When they create a project and open its API keys tab
    page.get_by_label("Project name").fill("Checkout agent")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout agent")
    page.get_by_role("navigation", name="Project").get_by_role("link", name="API keys").click()
    expect(page).to_have_url(re.compile(rf"/orgs/{org_slug}/projects/[0-9a-f-]{{36}}/keys/$"))
    expect(page.get_by_text("No keys yet.")).to_be_visible()

    # and create a key
    page.get_by_label("Key name").fill("production agent")
    page.get_by_role("button", name="Create key").click()

    # then the full secret is shown, once
    secret = page.get_by_test_id("new-secret").locator("code").inner_text().strip()
    assert secret.startswith("al_sk_")
    assert page.content().count(secret) == 1
    rows = page.get_by_test_id("api-keys").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("production agent")
    expect(rows.first).to_contain_text("active")
    page.screenshot(path="/tmp/browser-keys-created.png", full_page=True)

    # When the page is reloaded (the create form redirected, so this is a plain GET again)
    page.reload()

    # then the secret is nowhere in it, and the key is listed by its prefix only
    expect(page.get_by_test_id("new-secret")).to_have_count(0)
    assert secret not in page.content()
    expect(rows).to_have_count(1)

    # and the key authenticates the API
    status, body = _auth_check(live_server.url, secret)
    assert status == 200, body
    assert (body["organization"], body["project_name"]) == (org_slug, "Checkout agent")

    # When they revoke it and accept the confirmation
    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    rows.first.get_by_role("button", name="Revoke").click()

    # then the UI marks it revoked, and the API refuses it
    expect(page.get_by_text("Revoked production agent.")).to_be_visible()
    expect(rows.first).to_contain_text("revoked")
    expect(rows.first.get_by_role("button", name="Revoke")).to_have_count(0)
    assert len(dialogs) == 1 and dialogs[0].startswith("Revoke production agent?")
    page.screenshot(path=SCREENSHOT, full_page=True)
    status, body = _auth_check(live_server.url, secret)
    assert status == 401, body
