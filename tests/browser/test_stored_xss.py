"""Stored XSS in Chromium: payloads in every captured and admin-entered field, on every page.

The hostile organization (tests/browser/worlds.py) holds a payload in each field a customer's
agent or end user sends (question, answer, history, metadata, documents, tool calls, steps, signal
values, feedback, user and session ids, model, prompt version, variant) and each one an admin types
(organization, project, key, queue and rule names, rule text, taxonomy labels, problem titles,
invitation addresses, reviewer notes and corrections). The browser runs with the policy bypassed,
so escaping alone is tested: no page may run a payload, open a dialog or hold markup that only an
injection makes (an on…= attribute, an inline script, javascript: URL, iframe or srcdoc).
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import SUMMARY
from tests.browser.walk import ACCOUNT_PATHS, Walker, admin_paths, route_paths, walk
from tests.browser.worlds import PAYLOADS, hostile_world
from tests.factories.accounts import PASSWORD

pytestmark = pytest.mark.browser


def test_no_stored_payload_runs_on_any_page(browser, live_server, transactional_db, operator):
    world = hostile_world(base_url=live_server.url, owner_email="owner@hostile.test", password=PASSWORD)
    walkers = {role: Walker(browser, live_server.url, bypass_csp=True) for role in ("anonymous", "owner", "operator")}
    try:
        visits = walk(walkers["anonymous"], [f"/f/{token}" for token in world.tokens["feedback_widget"]]
                      + [f"/invitations/{token}/" for token in world.tokens["invitation_accept"][:1]])
        walkers["owner"].login(world.email, world.password)
        visits += walk(walkers["owner"], route_paths(world) + ACCOUNT_PATHS)
        walkers["operator"].login(operator.email, PASSWORD)
        visits += walk(walkers["operator"], admin_paths())
    finally:
        for walker in walkers.values():
            walker.close()

    executed = {visit.path: visit.xss for visit in visits if visit.xss is not None}
    injected = {visit.path: visit.injected for visit in visits if visit.injected}
    dialogs = [message for walker in walkers.values() for message in walker.dialogs]
    shown = {payload: sum(payload in visit.text for visit in visits) for payload in PAYLOADS}
    SUMMARY["xss"] = (f"stored XSS: {len(PAYLOADS)} payloads × {len(visits)} pages, "
                      f"{len(executed.keys() | injected.keys()) + len(dialogs)} executed")
    assert executed == {}
    assert injected == {}
    assert dialogs == []
    assert [payload for payload, pages in shown.items() if pages < 5] == []  # rendered, as text, on many pages
    assert len(visits) >= 60
