"""The Content-Security-Policy header, its one exception (the embeddable widget), and templates that need no inline code.

tests/browser/test_csp_pages.py checks in Chromium that no page of the demo raises a violation.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from apps.feedback.signing import make_token
from tests.conftest import client_for
from tests.factories.projects import api_key_with_secret

STRICT = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
TEMPLATES = Path(settings.BASE_DIR) / "templates"
# Markup the policy blocks: inline <script> (a JSON data block is not executed, so it is allowed),
# <style>, style="…", on…= handlers, htmx's eval-based hx-on, javascript: URLs.
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>|<style\b|\sstyle=|\son[a-z]+\s*=|hx-on|javascript:",
    re.IGNORECASE,
)


def _widget_url(project) -> str:
    api_key, _ = api_key_with_secret(project=project)
    token = make_token(
        signing_key=api_key.link_signing_key(), key_id=api_key.key_id, project_id=str(project.pk),
        turn_id=str(uuid.uuid4()), user_id="u-1", exp=int(time.time()) + 600,
    )
    return f"/f/{token}"


def test_the_policy_allows_nothing_inline_and_no_eval():
    header = "; ".join(f"{name} {sources}" for name, sources in settings.CONTENT_SECURITY_POLICY.items())

    assert header == STRICT
    assert "unsafe" not in header


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/", "/no-such-page/", "/api/docs/"])
def test_every_html_page_carries_the_strict_policy_and_refuses_framing(client, db, path):
    response = client.get(path)

    assert response["Content-Type"].startswith("text/html")
    assert (response["Content-Security-Policy"], response["X-Frame-Options"]) == (STRICT, "DENY")


def test_signed_in_pages_and_the_admin_carry_the_strict_policy(project, owner, admin_user):
    organization_page = client_for(owner).get(f"/orgs/{project.organization.slug}/projects/{project.pk}/")
    admin_page = client_for(admin_user).get("/admin/")

    assert (organization_page.status_code, admin_page.status_code) == (200, 200)
    assert organization_page["Content-Security-Policy"] == STRICT
    assert admin_page["Content-Security-Policy"] == STRICT


def test_the_feedback_widget_may_be_framed_by_any_page(client, project):
    url = _widget_url(project)

    shown = client.get(url)
    sent = client.post(url, {"rating": "down", "comment": "framed"})
    broken = client.get("/f/not-a-token")

    for response in (shown, sent, broken):
        assert response["Content-Security-Policy"] == STRICT.replace("frame-ancestors 'none'", "frame-ancestors *")
        assert "X-Frame-Options" not in response
    assert (shown.status_code, sent.status_code) == (200, 200)


def test_json_and_script_responses_carry_no_document_policy(client, db):
    schema = client.get("/api/schema/")
    swagger_initialiser = client.get("/api/docs/?script=")

    assert "Content-Security-Policy" not in schema
    assert swagger_initialiser["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in swagger_initialiser.content.decode()


def test_no_template_holds_inline_script_style_or_handlers():
    found = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0)}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for match in INLINE.finditer(re.sub(r"{#.*?#}", "", path.read_text()))
    ]

    assert found == []
