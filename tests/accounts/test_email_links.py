"""Links in e-mails use the configured public address (SITE_URL), never the host a request
came in on; SITE_URL follows PORT unless AGENTLOOP_SITE_URL names the address."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.test import Client, override_settings

from apps.core.roles import Role
from tests.factories.accounts import PASSWORD, UserFactory

PUBLIC = "https://agentloop.example.com"
ROOT = Path(__file__).resolve().parents[2]


def _site_url(**environment: str) -> str:
    """SITE_URL as a fresh process computes it from ``environment`` (no server needed)."""
    env = {key: value for key, value in os.environ.items() if key not in {"PORT", "AGENTLOOP_SITE_URL"}}
    env.update(DATABASE_URL="postgres://nobody@127.0.0.1:1/none", REDIS_URL="redis://127.0.0.1:1/0", **environment)
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings.base as base; print(base.SITE_URL)"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60,
    )
    return result.stdout.strip()


def test_site_url_follows_port_and_yields_to_agentloop_site_url():
    assert _site_url() == "http://localhost:8000"
    assert _site_url(PORT="9123") == "http://localhost:9123"
    assert _site_url(PORT="9123", AGENTLOOP_SITE_URL="https://loop.example.org/") == "https://loop.example.org"


def _links(body: str) -> list[str]:
    return re.findall(r"https?://\S+", body)


@pytest.mark.django_db
@override_settings(SITE_URL=PUBLIC)
def test_password_reset_mail_links_to_the_public_address():
    user = UserFactory(email="ada@example.test")

    response = Client().post("/accounts/password/reset/", {"email": user.email}, HTTP_HOST="10.0.0.5:8000")

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "[AgentLoop] Password Reset Email"
    links = _links(message.body)
    assert len(links) == 1
    assert re.fullmatch(rf"{PUBLIC}/accounts/password/reset/key/[0-9a-z]+-[0-9A-Za-z-]+/", links[0])
    assert "10.0.0.5" not in message.body


@pytest.mark.django_db
@override_settings(SITE_URL=PUBLIC)
def test_mail_for_an_unknown_account_links_sign_up_on_the_public_address():
    response = Client().post("/accounts/password/reset/", {"email": "nobody@example.test"}, HTTP_HOST="10.0.0.5:8000")

    assert response.status_code == 302
    assert _links(mail.outbox[0].body) == [f"{PUBLIC}/accounts/signup/"]


@pytest.mark.django_db
@override_settings(SITE_URL=PUBLIC, ACCOUNT_EMAIL_VERIFICATION="optional")
def test_sign_up_confirmation_mail_links_to_the_public_address():
    response = Client().post(
        "/accounts/signup/",
        {"email": "ada@example.test", "password1": PASSWORD, "password2": PASSWORD, "organization_name": "Engines"},
        HTTP_HOST="10.0.0.5:8000",
    )

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    links = _links(mail.outbox[0].body)
    assert len(links) == 1
    assert links[0].startswith(f"{PUBLIC}/accounts/confirm-email/")
    assert "10.0.0.5" not in mail.outbox[0].body


@override_settings(SITE_URL=PUBLIC)
def test_invitation_mail_and_response_link_to_the_public_address(members, login):
    client = login(members[Role.ADMIN].user, api=True)

    response = client.post("/api/v1/orgs/acme/invitations/", {"email": "new@example.test"}, format="json")

    assert response.status_code == 201
    accept_url = response.json()["accept_url"]
    assert re.fullmatch(rf"{PUBLIC}/invitations/[A-Za-z0-9_-]+/", accept_url)
    assert _links(mail.outbox[0].body) == [accept_url]
