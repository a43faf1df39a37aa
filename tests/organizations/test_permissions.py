"""Who may do what to an organization: settings, members and invitations, HTML and API.

Outsiders (members of another organization only) get 404, never 403; members lacking the
role get 403; anonymous callers are sent to log in (HTML) or refused with a JSON code (API).
Every refusal leaves the database as it was, audit log included.
"""

from __future__ import annotations

import pytest

from apps.core.roles import Role
from apps.governance.models import AuditEvent
from apps.organizations.models import Invitation, Membership
from tests.factories.organizations import InvitationFactory, MembershipFactory
from tests.organizations.matrix import (
    AUTH_MODES,
    OUTSIDER,
    assert_api_refused,
    assert_html_refused,
    audit_count,
    caller,
    role_rows,
)



@pytest.fixture
def target(organization):
    """A plain member of acme that admins act on."""
    return MembershipFactory(organization=organization, role=Role.MEMBER, user__email="target@acme.test")


@pytest.fixture
def invitation(organization, members):
    return InvitationFactory(
        organization=organization, email="invitee@example.test", invited_by=members[Role.OWNER].user
    )


# --- organization settings (retention) -------------------------------------------------------


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200))
def test_html_settings_page(role, status, allowed, members, outsider):
    client = caller(role, members=members, outsider=outsider)

    response = client.get("/orgs/acme/settings/")

    if allowed:
        assert response.status_code == status
        assert b'name="retention_days" value="30"' in response.content
    else:
        assert_html_refused(response, role, "/orgs/acme/settings/")


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(302))
def test_html_settings_update_retention(role, status, allowed, organization, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    audits = audit_count()

    response = client.post("/orgs/acme/settings/", {"name": "Acme", "retention_days": "90", "confirm_retention": "90"})

    organization.refresh_from_db()
    if allowed:
        assert response.status_code == status
        assert response["Location"] == "/orgs/acme/settings/"
        assert organization.retention_days == 90
        assert audit_count() == audits + 1
    else:
        assert_html_refused(response, role, "/orgs/acme/settings/")
        assert organization.retention_days == 30
        assert organization.name == "Acme"
        assert audit_count() == audits


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200, minimum=Role.MEMBER))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_organization_retrieve(auth, role, status, allowed, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)

    response = client.get("/api/v1/orgs/acme")

    if allowed:
        assert response.status_code == status
        body = response.json()
        assert (body["slug"], body["name"], body["retention_days"]) == ("acme", "Acme", 30)
    else:
        assert_api_refused(response, role)


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_organization_update_retention(auth, role, status, allowed, organization, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)
    audits = audit_count()

    response = client.patch("/api/v1/orgs/acme", {"retention_days": 90}, format="json")

    organization.refresh_from_db()
    if allowed:
        assert response.status_code == status
        assert response.json()["retention_days"] == 90
        assert organization.retention_days == 90
        assert audit_count() == audits + 1
    else:
        assert_api_refused(response, role)
        assert organization.retention_days == 30
        assert audit_count() == audits


# --- member list --------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200, minimum=Role.MEMBER))
def test_html_member_list(role, status, allowed, members, outsider):
    client = caller(role, members=members, outsider=outsider)

    response = client.get("/orgs/acme/members/")

    if allowed:
        assert response.status_code == status
        assert [m.user.email for m in response.context["members"]] == [
            "admin@acme.test", "member@acme.test", "owner@acme.test", "reviewer@acme.test",
        ]
        # Open invitations and the invite form are for admins only.
        assert (b"Open invitations" in response.content) is (role in (Role.ADMIN, Role.OWNER))
    else:
        assert_html_refused(response, role, "/orgs/acme/members/")


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200, minimum=Role.MEMBER))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_member_list(auth, role, status, allowed, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)

    response = client.get("/api/v1/orgs/acme/members/")

    if allowed:
        assert response.status_code == status
        assert [(m["email"], m["role"]) for m in response.json()] == [
            ("admin@acme.test", "admin"),
            ("member@acme.test", "member"),
            ("owner@acme.test", "owner"),
            ("reviewer@acme.test", "reviewer"),
        ]
    else:
        assert_api_refused(response, role)


# --- invite --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(302))
def test_html_invite(role, status, allowed, organization, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    audits = audit_count()

    response = client.post("/orgs/acme/members/", {"email": "new@example.test", "role": "member"})

    invitations = Invitation.objects.for_org(organization)
    if allowed:
        assert response.status_code == status
        assert response["Location"] == "/orgs/acme/members/"
        assert list(invitations.values_list("email", "role")) == [("new@example.test", "member")]
        assert audit_count() == audits + 1
    else:
        assert_html_refused(response, role, "/orgs/acme/members/")
        assert invitations.count() == 0
        assert audit_count() == audits


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(201))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_invite(auth, role, status, allowed, organization, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)
    audits = audit_count()

    response = client.post("/api/v1/orgs/acme/invitations/", {"email": "new@example.test"}, format="json")

    invitations = Invitation.objects.for_org(organization)
    if allowed:
        assert response.status_code == status
        assert (response.json()["email"], response.json()["role"], response.json()["status"]) == (
            "new@example.test", "member", "pending",
        )
        assert list(invitations.values_list("email", "role")) == [("new@example.test", "member")]
        assert audit_count() == audits + 1
    else:
        assert_api_refused(response, role)
        assert invitations.count() == 0
        assert audit_count() == audits


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_invitation_list(auth, role, status, allowed, invitation, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)

    response = client.get("/api/v1/orgs/acme/invitations/")

    if allowed:
        assert response.status_code == status
        assert [(i["id"], i["email"], i["status"]) for i in response.json()["results"]] == [
            (invitation.pk, "invitee@example.test", "pending"),
        ]
    else:
        assert_api_refused(response, role)


# --- revoke invitation ---------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(302))
def test_html_revoke_invitation(role, status, allowed, invitation, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    audits = audit_count()
    path = f"/orgs/acme/invitations/{invitation.pk}/revoke/"

    response = client.post(path)

    invitation.refresh_from_db()
    if allowed:
        assert response.status_code == status
        assert invitation.revoked_at is not None
        assert audit_count() == audits + 1
    else:
        assert_html_refused(response, role, path)
        assert invitation.revoked_at is None
        assert audit_count() == audits


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(204))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_revoke_invitation(auth, role, status, allowed, invitation, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)
    audits = audit_count()

    response = client.delete(f"/api/v1/orgs/acme/invitations/{invitation.pk}/")

    invitation.refresh_from_db()
    if allowed:
        assert response.status_code == status
        assert invitation.revoked_at is not None
        assert audit_count() == audits + 1
    else:
        assert_api_refused(response, role)
        assert invitation.revoked_at is None
        assert audit_count() == audits


# --- change role ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(302))
def test_html_change_role(role, status, allowed, target, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    audits = audit_count()
    path = f"/orgs/acme/members/{target.pk}/role/"

    response = client.post(path, {"role": "reviewer"})

    target.refresh_from_db()
    if allowed:
        assert response.status_code == status
        assert target.role == Role.REVIEWER
        assert audit_count() == audits + 1
    else:
        assert_html_refused(response, role, path)
        assert target.role == Role.MEMBER
        assert audit_count() == audits


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_change_role(auth, role, status, allowed, target, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)
    audits = audit_count()

    response = client.patch(f"/api/v1/orgs/acme/members/{target.pk}/", {"role": "reviewer"}, format="json")

    target.refresh_from_db()
    if allowed:
        assert response.status_code == status
        assert response.json()["role"] == "reviewer"
        assert target.role == Role.REVIEWER
        assert audit_count() == audits + 1
    else:
        assert_api_refused(response, role)
        assert target.role == Role.MEMBER
        assert audit_count() == audits


# --- remove member -------------------------------------------------------------------------------
# The route admits every member (anyone may leave); removing someone else needs admin. The
# service refuses members and reviewers with 403 and the members page says why.


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(302))
def test_html_remove_member(role, status, allowed, organization, target, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    audits = audit_count()
    path = f"/orgs/acme/members/{target.pk}/remove/"

    response = client.post(path)

    still_member = Membership.objects.for_org(organization).filter(pk=target.pk).exists()
    if allowed:
        assert response.status_code == status
        assert response["Location"] == "/orgs/acme/members/"
        assert still_member is False
        assert audit_count() == audits + 1
    elif role in (Role.MEMBER, Role.REVIEWER):
        assert response.status_code == 403
        assert b"Only admins can remove members." in response.content
        assert still_member is True
        assert audit_count() == audits
    else:
        assert_html_refused(response, role, path)
        assert still_member is True
        assert audit_count() == audits


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(204))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_remove_member(auth, role, status, allowed, organization, target, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)
    audits = audit_count()

    response = client.delete(f"/api/v1/orgs/acme/members/{target.pk}/")

    still_member = Membership.objects.for_org(organization).filter(pk=target.pk).exists()
    if allowed:
        assert response.status_code == status
        assert still_member is False
        assert audit_count() == audits + 1
    else:
        assert_api_refused(response, role)
        if role in (Role.MEMBER, Role.REVIEWER):
            assert response.json()["message"] == "Only admins can remove members."
        assert still_member is True
        assert audit_count() == audits


def test_html_outsider_cannot_reach_members_of_an_organization_by_its_member_ids(
    organization, other_organization, target, outsider
):
    """The outsider owns globex; acme's member id under globex's URL is also a 404."""
    client = caller(OUTSIDER, members={}, outsider=outsider)

    response = client.post(f"/orgs/globex/members/{target.pk}/remove/")

    assert response.status_code == 404
    assert Membership.objects.for_org(organization).filter(pk=target.pk).exists() is True
    assert AuditEvent.all_tenants.count() == 0
