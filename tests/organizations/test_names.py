"""Organization names are one line of plain text on every door: API, settings page, the
"new organization" form, sign-up and bootstrap_org. A name with a control character, a line
or paragraph separator or a bidi override is refused on the field ``name`` and nothing changes."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from apps.accounts.models import User
from apps.core.roles import Role
from apps.governance.models import AuditEvent
from apps.organizations.models import Membership, Organization
from tests.factories.accounts import PASSWORD

HOSTILE_NAMES = [
    "Gamma\r\nBcc: victim@example.test",
    "Gamma\nSubject: hello",
    "Gamma\rX",
    "tab\there",
    "esc \x1b[31mred",
    "del \x7f char",
    "c1 \x85 next line",
    "line\u2028separator",
    "paragraph\u2029separator",
    "bidi \u202eevil\u202c",
    "isolate \u2066x\u2069",
    "mark \u200fx",
]
READABLE = "Names cannot contain control characters (line breaks, tabs) or text-direction overrides."


def _state():
    return (
        sorted(Organization.objects.values_list("slug", "name")),
        AuditEvent.all_tenants.count(),
        User.objects.count(),
        Membership.all_tenants.count(),
    )


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_api_rename_with_a_control_character_is_400_invalid_on_name_and_changes_nothing(members, login, name):
    client = login(members[Role.OWNER].user, api=True)
    before = _state()

    response = client.patch("/api/v1/orgs/acme", {"name": name}, format="json")

    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "message": READABLE, "field": "name"}
    assert _state() == before


@pytest.mark.parametrize("name", ["Café Ünïcode", "日本語チーム", "👩\u200d💻 team", "O'Brien & Sons (EU)"])
def test_api_rename_keeps_ordinary_unicode_names_exactly(members, login, name):
    client = login(members[Role.OWNER].user, api=True)

    response = client.patch("/api/v1/orgs/acme", {"name": f"  {name} "}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == name
    assert Organization.objects.get(slug="acme").name == name


def test_settings_page_shows_the_refusal_on_the_name_field_and_changes_nothing(members, login):
    client = login(members[Role.OWNER].user)
    before = _state()

    response = client.post("/orgs/acme/settings/", {"name": "Gamma\r\nBcc: victim@example.test", "retention_days": "90", "confirm_retention": "90"})

    assert response.status_code == 400
    assert response.context["form"].errors == {"name": [READABLE]}
    assert READABLE in response.content.decode()
    assert _state() == before


def test_new_organization_form_refuses_a_name_with_a_line_break(members, login):
    client = login(members[Role.OWNER].user)
    before = _state()

    response = client.post("/orgs/", {"name": "Gamma\nBcc: victim@example.test"})

    assert response.status_code == 400
    assert response.context["form"].errors == {"name": [READABLE]}
    assert _state() == before


@pytest.mark.django_db
def test_signup_with_a_hostile_organization_name_shows_the_error_and_creates_no_user():
    before = _state()

    response = Client().post(
        "/accounts/signup/",
        {"email": "ada@example.test", "password1": PASSWORD, "password2": PASSWORD,
         "organization_name": "Engines\r\nBcc: victim@example.test"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {"organization_name": [READABLE]}
    assert _state() == before


@pytest.mark.django_db
def test_signup_default_name_from_a_quoted_local_part_with_a_control_character_is_one_line():
    response = Client().post(
        "/accounts/signup/",
        {"email": '"ada\x01lovelace"@example.test', "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.status_code == 302
    assert list(Organization.objects.values_list("name", flat=True)) == ['"ada lovelace"\'s team']


@pytest.mark.django_db
@pytest.mark.parametrize(("option", "value"), [("--org", "Initech\r\nBcc: x@example.test"), ("--project", "Bot\u202e")])
def test_bootstrap_org_refuses_a_hostile_name_and_creates_nothing(option, value):
    names = {"--org": "Initech", "--project": "Helpdesk bot", option: value}
    before = _state()

    with pytest.raises(CommandError) as raised:
        call_command(
            "bootstrap_org", "--org", names["--org"], "--owner-email", "boss@initech.test",
            "--owner-password", "a-long-unusual-passphrase", "--project", names["--project"], stdout=StringIO(),
        )

    assert str(raised.value) == READABLE
    assert _state() == before
