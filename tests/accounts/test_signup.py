"""Sign-up through allauth creates an organization with the new user as its owner."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.core.audit import AuditAction
from apps.governance.models import AuditEvent
from apps.organizations.models import Membership, Organization
from tests.factories.accounts import PASSWORD, UserFactory

IP = "198.51.100.23"


def _signup(client: Client, **fields):
    data = {"email": "ada@example.test", "password1": PASSWORD, "password2": PASSWORD, **fields}
    return client.post("/accounts/signup/", data, REMOTE_ADDR=IP)


def _memberships(email: str) -> list[tuple[str, str, str]]:
    return list(
        Membership.all_tenants.filter(user__email=email)
        .order_by("organization__slug")
        .values_list("organization__name", "organization__slug", "role")
    )


@pytest.mark.django_db
def test_signup_creates_the_named_organization_with_the_user_as_owner():
    client = Client()

    response = _signup(client, organization_name="  Analytical Engines  ")

    assert response.status_code == 302
    assert _memberships("ada@example.test") == [("Analytical Engines", "analytical-engines", "owner")]
    user = User.objects.get(email="ada@example.test")
    organization = Organization.objects.get(slug="analytical-engines")
    event = AuditEvent.objects.for_org(organization).get()
    assert (event.actor, event.actor_email, event.action, event.target_type, event.target_id) == (
        user, "ada@example.test", AuditAction.ORGANIZATION_CREATED, "organization", "analytical-engines",
    )
    assert (event.target_label, event.before, event.after, event.ip_address) == (
        "Analytical Engines", None, {"name": "Analytical Engines"}, IP,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["", "   "])
def test_signup_without_a_name_creates_a_default_organization(name):
    response = _signup(Client(), organization_name=name)

    assert response.status_code == 302
    assert _memberships("ada@example.test") == [("ada's team", "adas-team", "owner")]
    assert list(AuditEvent.all_tenants.values_list("action", flat=True)) == ["organization.created"]


@pytest.mark.django_db
def test_signup_without_the_field_at_all_creates_a_default_organization():
    response = Client().post("/accounts/signup/", {"email": "ada@example.test", "password1": PASSWORD, "password2": PASSWORD})

    assert response.status_code == 302
    assert _memberships("ada@example.test") == [("ada's team", "adas-team", "owner")]


def test_signup_with_a_taken_name_gets_a_unique_slug(organization):
    response = _signup(Client(), organization_name="Acme")

    assert response.status_code == 302
    assert _memberships("ada@example.test") == [("Acme", "acme-2", "owner")]


@pytest.mark.django_db
def test_signed_up_user_lands_in_the_new_organization():
    client = Client()
    _signup(client, organization_name="Engines")

    home = client.get("/")
    page = client.get("/orgs/engines/")

    assert (home.status_code, home["Location"]) == (302, "/orgs/engines/")
    assert page.status_code == 200
    assert page.context["membership"].role == "owner"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"organization_name": "x" * 101}, "organization_name", "Ensure this value has at most 100 characters (it has 101)."),
        ({"organization_name": "Nul\x00Org"}, "organization_name", "Null characters are not allowed."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"password2": "something-else-entirely"}, "password2", "You must type the same password each time."),
    ],
)
def test_bad_signup_input_creates_nothing(fields, field, message):
    response = _signup(Client(), **fields)

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert User.objects.count() == 0
    assert Organization.objects.count() == 0
    assert AuditEvent.all_tenants.count() == 0


@pytest.mark.django_db
def test_signup_with_a_taken_email_creates_no_organization():
    UserFactory(email="ada@example.test")

    response = _signup(Client(), email="ADA@example.test", organization_name="Second")

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["email"]
    assert Organization.objects.count() == 0


@pytest.mark.django_db
def test_closed_signup_creates_nothing(settings):
    settings.SIGNUP_OPEN = False

    response = _signup(Client(), organization_name="Engines")

    assert response.status_code == 200
    assert b"Sign Up Closed" in response.content
    assert User.objects.count() == 0
    assert Organization.objects.count() == 0
