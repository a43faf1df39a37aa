"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright against ``live_server``.

Without Chromium these tests skip, unless AGENTLOOP_REQUIRE_BROWSER=1 makes that a failure
(so a run that must cover the UI cannot pass silently). Playwright's own browser downloads
are never used; AGENTLOOP_CHROMIUM points at another Chromium binary.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = Path(os.environ.get("AGENTLOOP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _unavailable(reason: str):
    if os.environ.get("AGENTLOOP_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (AGENTLOOP_REQUIRE_BROWSER=1 requires the browser tests to run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"{CHROMIUM} is missing; install it with `apt-get install -y chromium`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server, transactional_db):
    """A fresh browser context (no cookies) whose relative URLs go to ``live_server``."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


# What the page walks covered (tests/browser/test_csp_pages.py, test_stored_xss.py), printed after the run.
SUMMARY: dict[str, str] = {}


def pytest_terminal_summary(terminalreporter):
    for line in SUMMARY.values():
        terminalreporter.write_line(line)


@pytest.fixture
def operator(db):
    """A superuser for the Django admin pages."""
    from tests.factories.accounts import UserFactory

    return UserFactory(email="operator@agentloop.test", is_staff=True, is_superuser=True)
