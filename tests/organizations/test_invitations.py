"""Invitations: e-mailed, single-use, expiring links that work for new and existing accounts."""

from __future__ import annotations

import hashlib
import re
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone

from apps.core.roles import Role
from apps.core.audit import AuditAction
from apps.governance.models import AuditEvent
from apps.organizations.models import Invitation, Membership, Organization
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.organizations import InvitationFactory, MembershipFactory, OrganizationFactory

LINK = re.compile(r"http://testserver/invitations/([A-Za-z0-9_-]+)/")


@pytest.fixture
def admin(members):
    return members[Role.ADMIN].user


@pytest.fixture
def invitation(organization, members):
    return InvitationFactory(
        organization=organization, email="invitee@example.test", role=Role.REVIEWER,
        token="open-token", invited_by=members[Role.OWNER].user,
    )


def _memberships_of(email: str) -> list[tuple[str, str]]:
    return sorted(
        Membership.all_tenants.filter(user__email=email).values_list("organization__slug", "role")
    )


# --- sending ------------------------------------------------------------------------------------


def test_html_invite_sends_one_email_with_a_working_link(
    organization, admin, login, django_capture_on_commit_callbacks
):
    client = login(admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/orgs/acme/members/", {"email": "New@Example.test", "role": "reviewer"})

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new@example.test"]
    assert message.subject == "You're invited to Acme on AgentLoop"
    assert "admin@acme.test invited you to join Acme on AgentLoop as reviewer." in message.body
    token = LINK.search(message.body).group(1)
    invitation = Invitation.objects.for_org(organization).get()
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (invitation.email, invitation.role, invitation.invited_by) == ("new@example.test", "reviewer", admin)


def test_api_invite_returns_the_link_that_the_email_contains(admin, login, django_capture_on_commit_callbacks):
    client = login(admin, api=True)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/orgs/acme/invitations/", {"email": "new@example.test"}, format="json")

    assert response.status_code == 201
    assert len(mail.outbox) == 1
    assert LINK.search(mail.outbox[0].body).group(0) == response.json()["accept_url"]
    assert response.json()["invited_by"] == "admin@acme.test"


def test_no_email_is_sent_when_the_invitation_is_refused(admin, members, login, django_capture_on_commit_callbacks):
    client = login(admin, api=True)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/orgs/acme/invitations/", {"email": "member@acme.test"}, format="json")

    assert (response.status_code, response.json()["code"], response.json()["field"]) == (409, "already_member", "email")
    assert mail.outbox == []


def test_only_a_sha256_hash_of_the_token_is_stored(organization, admin, login):
    client = login(admin, api=True)

    response = client.post("/api/v1/orgs/acme/invitations/", {"email": "new@example.test"}, format="json")

    token = LINK.search(response.json()["accept_url"]).group(1)
    row = Invitation.objects.for_org(organization).values().get()
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert [column for column, value in row.items() if token in str(value)] == []
    stored_audit = list(AuditEvent.all_tenants.values_list("target_id", "target_label", "before", "after"))
    assert token not in repr(stored_audit)
    assert token not in repr(client.get("/api/v1/orgs/acme/invitations/").json())


# --- who may invite whom ------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status", "code"), [(Role.ADMIN, 403, "permission_denied"), (Role.OWNER, 201, None)])
def test_api_only_owners_may_invite_owners(role, status, code, organization, members, login):
    client = login(members[role].user, api=True)

    response = client.post("/api/v1/orgs/acme/invitations/", {"email": "boss@example.test", "role": "owner"}, format="json")

    assert response.status_code == status
    invitations = list(Invitation.objects.for_org(organization).values_list("email", "role"))
    if code:
        assert (response.json()["code"], response.json()["field"]) == (code, "role")
        assert invitations == []
    else:
        assert invitations == [("boss@example.test", "owner")]


def test_html_admin_inviting_an_owner_is_refused_on_the_form(organization, admin, login):
    client = login(admin)
    audits = AuditEvent.all_tenants.count()

    response = client.post("/orgs/acme/members/", {"email": "boss@example.test", "role": "owner"})

    assert response.status_code == 403
    assert response.context["form"].errors == {"role": ["Only owners can grant the owner role."]}
    assert Invitation.objects.for_org(organization).count() == 0
    assert AuditEvent.all_tenants.count() == audits


def test_reinviting_an_address_revokes_the_earlier_open_invitation(organization, admin, login):
    client = login(admin, api=True)
    first = client.post("/api/v1/orgs/acme/invitations/", {"email": "new@example.test"}, format="json").json()

    second = client.post(
        "/api/v1/orgs/acme/invitations/", {"email": "NEW@example.test", "role": "reviewer"}, format="json"
    ).json()

    rows = {i.pk: i for i in Invitation.objects.for_org(organization)}
    assert rows[first["id"]].revoked_at is not None
    assert rows[second["id"]].revoked_at is None
    assert [(i["id"], i["role"]) for i in client.get("/api/v1/orgs/acme/invitations/").json()["results"]] == [
        (second["id"], "reviewer"),
        (first["id"], "member"),
    ]
    first_page = Client().get(first["accept_url"].removeprefix("http://testserver"))
    assert first_page.status_code == 410
    assert b"This invitation was revoked by an administrator." in first_page.content


# --- accepting ----------------------------------------------------------------------------------


def test_accept_as_an_existing_account(organization, invitation, login):
    user = UserFactory(email="invitee@example.test")
    client = login(user)

    page = client.get("/invitations/open-token/")
    response = client.post("/invitations/open-token/")

    assert page.status_code == 200
    assert b"Join Acme" in page.content
    assert response.status_code == 302
    assert response["Location"] == "/orgs/acme/"
    assert _memberships_of("invitee@example.test") == [("acme", "reviewer")]
    invitation.refresh_from_db()
    assert (invitation.accepted_by, invitation.accepted_at is not None) == (user, True)
    event = AuditEvent.objects.for_org(organization).get(action=AuditAction.INVITATION_ACCEPTED)
    assert (event.actor, event.target_label, event.after) == (user, "invitee@example.test", {"role": "reviewer"})


def test_accept_as_a_new_account_signs_up_without_creating_an_organization(organization, invitation):
    client = Client()
    organizations = Organization.objects.count()

    page = client.get("/invitations/open-token/")
    signup = client.post(
        "/accounts/signup/",
        {"email": "invitee@example.test", "password1": PASSWORD, "password2": PASSWORD, "organization_name": ""},
    )
    accept = client.post("/invitations/open-token/")

    assert page.status_code == 200
    assert b"/accounts/signup/?next=/invitations/open-token/" in page.content
    assert signup.status_code == 302
    assert Organization.objects.count() == organizations
    assert accept.status_code == 302
    assert accept["Location"] == "/orgs/acme/"
    assert _memberships_of("invitee@example.test") == [("acme", "reviewer")]


def test_signing_up_from_an_invitation_with_another_address_creates_an_own_organization(organization, invitation):
    client = Client()
    client.get("/invitations/open-token/")

    signup = client.post(
        "/accounts/signup/", {"email": "someone.else@example.test", "password1": PASSWORD, "password2": PASSWORD}
    )

    assert signup.status_code == 302
    assert _memberships_of("someone.else@example.test") == [("someoneelses-team", "owner")]


@pytest.mark.parametrize("closed", ["expired", "revoked", "accepted"])
def test_signing_up_from_a_closed_invitation_creates_an_own_organization(closed, organization, invitation):
    client = Client()
    client.get("/invitations/open-token/")
    now = timezone.now()
    field = {"expired": "expires_at", "revoked": "revoked_at", "accepted": "accepted_at"}[closed]
    Invitation.objects.for_org(organization).filter(pk=invitation.pk).update(**{field: now - timedelta(seconds=1)})

    signup = client.post(
        "/accounts/signup/", {"email": "invitee@example.test", "password1": PASSWORD, "password2": PASSWORD}
    )

    assert signup.status_code == 302
    assert _memberships_of("invitee@example.test") == [("invitees-team", "owner")]


def test_anonymous_accept_is_sent_to_log_in(invitation):
    response = Client().post("/invitations/open-token/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/invitations/open-token/"
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_expired_invitation_cannot_be_accepted(organization, invitation, login):
    Invitation.objects.for_org(organization).filter(pk=invitation.pk).update(expires_at=timezone.now())
    client = login(UserFactory(email="invitee@example.test"))

    page = client.get("/invitations/open-token/")
    response = client.post("/invitations/open-token/")

    assert (page.status_code, response.status_code) == (410, 410)
    assert b"This invitation has expired. Ask an administrator for a new one." in response.content
    assert _memberships_of("invitee@example.test") == []


def test_used_invitation_cannot_be_accepted_again(organization, invitation, login):
    client = login(UserFactory(email="invitee@example.test"))
    first = client.post("/invitations/open-token/")
    audits = AuditEvent.all_tenants.count()

    second = client.post("/invitations/open-token/")

    assert first.status_code == 302
    assert second.status_code == 410
    assert b"This invitation has already been used." in second.content
    assert _memberships_of("invitee@example.test") == [("acme", "reviewer")]
    assert AuditEvent.all_tenants.count() == audits


def test_revoked_invitation_cannot_be_accepted(invitation, admin, login):
    login(admin).post(f"/orgs/acme/invitations/{invitation.pk}/revoke/")
    client = login(UserFactory(email="invitee@example.test"))

    page = client.get("/invitations/open-token/")
    response = client.post("/invitations/open-token/")

    assert (page.status_code, response.status_code) == (410, 410)
    assert b"This invitation was revoked by an administrator." in response.content
    assert _memberships_of("invitee@example.test") == []


def test_invitation_for_another_address_is_refused(invitation, login):
    client = login(UserFactory(email="someone.else@example.test"))
    audits = AuditEvent.all_tenants.count()

    response = client.post("/invitations/open-token/")

    assert response.status_code == 403
    assert (
        b"This invitation was sent to invitee@example.test, but you are signed in as someone.else@example.test."
        in response.content
    )
    assert _memberships_of("someone.else@example.test") == []
    invitation.refresh_from_db()
    assert invitation.accepted_at is None
    assert AuditEvent.all_tenants.count() == audits


def test_unknown_token_is_not_found(db, login):
    client = login(UserFactory())

    page = client.get("/invitations/no-such-token/")
    response = client.post("/invitations/no-such-token/")

    assert (page.status_code, response.status_code) == (404, 404)
    assert b"This invitation link is not valid." in response.content


def test_accepting_when_already_a_member_is_a_conflict(organization, members, login):
    InvitationFactory(organization=organization, email="member@acme.test", token="member-token")
    client = login(members[Role.MEMBER].user)

    response = client.post("/invitations/member-token/")

    assert response.status_code == 409
    assert b"You are already a member of Acme." in response.content
    assert _memberships_of("member@acme.test") == [("acme", "member")]


def test_revoking_an_accepted_invitation_is_a_conflict(invitation, admin, login):
    login(UserFactory(email="invitee@example.test")).post("/invitations/open-token/")

    response = login(admin, api=True).delete(f"/api/v1/orgs/acme/invitations/{invitation.pk}/")

    assert (response.status_code, response.json()["code"]) == (409, "invitation_closed")
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


# --- concurrency --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_accepts_of_one_token_end_with_exactly_one_membership():
    organization = OrganizationFactory(name="Race", slug="race")
    MembershipFactory(organization=organization, role=Role.OWNER)
    InvitationFactory(organization=organization, email="racer@example.test", token="race-token")
    user = UserFactory(email="racer@example.test")
    clients = []
    for _ in range(4):
        client = Client()
        client.force_login(user)
        clients.append(client)
    barrier = threading.Barrier(len(clients))
    statuses = []

    def accept(client):
        try:
            barrier.wait(timeout=10)
            statuses.append(client.post("/invitations/race-token/").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [302, 410, 410, 410]
    assert _memberships_of("racer@example.test") == [("race", "member")]
    assert AuditEvent.all_tenants.filter(action=AuditAction.INVITATION_ACCEPTED).count() == 1
