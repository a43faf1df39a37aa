"""Roles and membership changes: an organization always keeps an owner; admins cannot touch owners."""

from __future__ import annotations

import pytest

from apps.core.errors import Conflict, Forbidden
from apps.core.permissions import object_permission_grant
from apps.core.roles import Role
from apps.core.audit import AuditAction
from apps.governance.models import AuditEvent
from apps.core.audit import Actor
from apps.organizations import services
from apps.organizations.models import Membership
from apps.projects.models import ACCESS_PERMISSION, ProjectUserObjectPermission
from tests.factories.organizations import MembershipFactory

LAST_OWNER = "An organization always keeps at least one owner; make someone else owner first."


@pytest.fixture
def owner_membership(members):
    return members[Role.OWNER]


@pytest.fixture
def second_owner(organization):
    return MembershipFactory(organization=organization, role=Role.OWNER, user__email="owner2@acme.test")


def _roles(organization) -> dict[str, str]:
    return dict(Membership.objects.for_org(organization).values_list("user__email", "role"))


def _audit_count() -> int:
    return AuditEvent.all_tenants.count()


# --- the last owner -----------------------------------------------------------------------------


@pytest.mark.parametrize("new_role", [Role.ADMIN, Role.REVIEWER, Role.MEMBER])
def test_html_last_owner_cannot_be_demoted(new_role, organization, owner_membership, login):
    client = login(owner_membership.user)
    audits = _audit_count()

    response = client.post(f"/orgs/acme/members/{owner_membership.pk}/role/", {"role": new_role})

    assert response.status_code == 409
    assert LAST_OWNER.encode() in response.content
    assert _roles(organization)["owner@acme.test"] == Role.OWNER
    assert _audit_count() == audits


def test_api_last_owner_cannot_be_demoted(organization, owner_membership, login):
    client = login(owner_membership.user, api=True)
    audits = _audit_count()

    response = client.patch(f"/api/v1/orgs/acme/members/{owner_membership.pk}/", {"role": "admin"}, format="json")

    assert response.status_code == 409
    assert response.json() == {"code": "last_owner", "message": LAST_OWNER, "field": None}
    assert _roles(organization)["owner@acme.test"] == Role.OWNER
    assert _audit_count() == audits


def test_html_last_owner_cannot_leave(organization, owner_membership, login):
    client = login(owner_membership.user)
    audits = _audit_count()

    response = client.post(f"/orgs/acme/members/{owner_membership.pk}/remove/")

    assert response.status_code == 409
    assert LAST_OWNER.encode() in response.content
    assert _roles(organization)["owner@acme.test"] == Role.OWNER
    assert _audit_count() == audits


def test_api_last_owner_cannot_leave(organization, owner_membership, login):
    client = login(owner_membership.user, api=True)
    audits = _audit_count()

    response = client.delete(f"/api/v1/orgs/acme/members/{owner_membership.pk}/")

    assert (response.status_code, response.json()["code"]) == (409, "last_owner")
    assert _roles(organization)["owner@acme.test"] == Role.OWNER
    assert _audit_count() == audits


def test_with_two_owners_one_can_be_demoted_and_then_the_other_is_the_last(
    organization, owner_membership, second_owner, login
):
    client = login(owner_membership.user, api=True)

    demoted = client.patch(f"/api/v1/orgs/acme/members/{second_owner.pk}/", {"role": "admin"}, format="json")
    refused = client.patch(f"/api/v1/orgs/acme/members/{owner_membership.pk}/", {"role": "admin"}, format="json")

    assert demoted.status_code == 200
    assert (refused.status_code, refused.json()["code"]) == (409, "last_owner")
    assert _roles(organization)["owner2@acme.test"] == Role.ADMIN
    assert _roles(organization)["owner@acme.test"] == Role.OWNER


def test_html_with_two_owners_an_owner_can_demote_themselves(organization, owner_membership, second_owner, login):
    client = login(owner_membership.user)

    response = client.post(f"/orgs/acme/members/{owner_membership.pk}/role/", {"role": "admin"})

    assert response.status_code == 302
    assert response["Location"] == "/orgs/acme/members/"
    assert _roles(organization)["owner@acme.test"] == Role.ADMIN
    event = AuditEvent.objects.for_org(organization).get(action=AuditAction.MEMBER_ROLE_CHANGED)
    assert (event.target_label, event.before, event.after) == ("owner@acme.test", {"role": "owner"}, {"role": "admin"})


def test_with_two_owners_an_owner_can_leave(organization, owner_membership, second_owner, login):
    client = login(second_owner.user)

    response = client.post(f"/orgs/acme/members/{second_owner.pk}/remove/")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert "owner2@acme.test" not in _roles(organization)


def test_owner_can_make_another_member_owner(organization, members, owner_membership, login):
    client = login(owner_membership.user, api=True)

    response = client.patch(f"/api/v1/orgs/acme/members/{members[Role.MEMBER].pk}/", {"role": "owner"}, format="json")

    assert response.status_code == 200
    assert _roles(organization)["member@acme.test"] == Role.OWNER


# --- admins and owners --------------------------------------------------------------------------


@pytest.mark.parametrize("new_role", [Role.ADMIN, Role.MEMBER])
def test_html_admin_cannot_change_an_owner(new_role, organization, members, second_owner, login):
    client = login(members[Role.ADMIN].user)
    audits = _audit_count()

    response = client.post(f"/orgs/acme/members/{second_owner.pk}/role/", {"role": new_role})

    assert response.status_code == 403
    assert b"Only owners can change or remove an owner." in response.content
    assert _roles(organization)["owner2@acme.test"] == Role.OWNER
    assert _audit_count() == audits


def test_api_admin_cannot_change_an_owner(organization, members, second_owner, login):
    client = login(members[Role.ADMIN].user, api=True)

    response = client.patch(f"/api/v1/orgs/acme/members/{second_owner.pk}/", {"role": "member"}, format="json")

    assert response.status_code == 403
    assert response.json() == {
        "code": "permission_denied", "message": "Only owners can change or remove an owner.", "field": None,
    }
    assert _roles(organization)["owner2@acme.test"] == Role.OWNER


def test_html_admin_cannot_remove_an_owner(organization, members, second_owner, login):
    client = login(members[Role.ADMIN].user)

    response = client.post(f"/orgs/acme/members/{second_owner.pk}/remove/")

    assert response.status_code == 403
    assert b"Only owners can change or remove an owner." in response.content
    assert _roles(organization)["owner2@acme.test"] == Role.OWNER


def test_api_admin_cannot_remove_an_owner(organization, members, second_owner, login):
    client = login(members[Role.ADMIN].user, api=True)
    audits = _audit_count()

    response = client.delete(f"/api/v1/orgs/acme/members/{second_owner.pk}/")

    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert _roles(organization)["owner2@acme.test"] == Role.OWNER
    assert _audit_count() == audits


@pytest.mark.parametrize("interface", ["html", "api"])
def test_admin_cannot_promote_anyone_to_owner(interface, organization, members, login):
    admin = members[Role.ADMIN]
    client = login(admin.user, api=interface == "api")

    if interface == "api":
        response = client.patch(f"/api/v1/orgs/acme/members/{admin.pk}/", {"role": "owner"}, format="json")
    else:
        response = client.post(f"/orgs/acme/members/{admin.pk}/role/", {"role": "owner"})

    assert response.status_code == 403
    assert _roles(organization)["admin@acme.test"] == Role.ADMIN


def test_admin_can_change_and_remove_other_admins(organization, members, login):
    other_admin = MembershipFactory(organization=organization, role=Role.ADMIN, user__email="admin2@acme.test")
    client = login(members[Role.ADMIN].user, api=True)

    changed = client.patch(f"/api/v1/orgs/acme/members/{other_admin.pk}/", {"role": "reviewer"}, format="json")
    removed = client.delete(f"/api/v1/orgs/acme/members/{other_admin.pk}/")

    assert (changed.status_code, removed.status_code) == (200, 204)
    assert "admin2@acme.test" not in _roles(organization)


# --- leaving ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.MEMBER, Role.REVIEWER, Role.ADMIN])
def test_html_anyone_can_leave(role, organization, members, login):
    membership = members[role]
    client = login(membership.user)

    response = client.post(f"/orgs/acme/members/{membership.pk}/remove/")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert membership.user.email not in _roles(organization)
    event = AuditEvent.objects.for_org(organization).get(action=AuditAction.MEMBER_REMOVED)
    assert (event.actor, event.target_id, event.before) == (membership.user, str(membership.pk), {"role": role})


def test_api_member_can_leave(organization, members, login):
    membership = members[Role.MEMBER]
    client = login(membership.user, api=True)

    response = client.delete(f"/api/v1/orgs/acme/members/{membership.pk}/")
    after = client.get("/api/v1/orgs/acme/members/")

    assert response.status_code == 204
    assert "member@acme.test" not in _roles(organization)
    assert (after.status_code, after.json()["code"]) == (404, "not_found")


def test_leaving_drops_the_grants_on_restricted_projects(organization, project, members, login):
    membership = members[Role.MEMBER]
    project.is_restricted = True
    project.save(update_fields=["is_restricted"])
    object_permission_grant(membership=membership, permission=ACCESS_PERMISSION, obj=project)

    login(membership.user, api=True).delete(f"/api/v1/orgs/acme/members/{membership.pk}/")

    assert ProjectUserObjectPermission.objects.filter(user=membership.user).count() == 0


# --- the acting member's role is read when the change is made -------------------------------------


def test_a_demoted_owner_cannot_act_on_a_stale_copy_of_their_membership(organization, members, second_owner):
    """Two requests race: one demotes an owner while that owner's own request is in flight."""
    stale = Membership.objects.for_org(organization).get(pk=second_owner.pk)
    Membership.objects.for_org(organization).filter(pk=second_owner.pk).update(role=Role.MEMBER)
    target = members[Role.OWNER]

    with pytest.raises(Forbidden):
        services.membership_change_role(
            membership=target, acting=stale, role=Role.MEMBER, actor=Actor(user=second_owner.user)
        )
    with pytest.raises(Forbidden):
        services.membership_remove(membership=target, acting=stale, actor=Actor(user=second_owner.user))
    with pytest.raises(Forbidden):
        services.invitation_create(
            organization=organization, acting=stale, email="boss@example.test", role=Role.OWNER,
            actor=Actor(user=second_owner.user),
        )

    assert _roles(organization)["owner@acme.test"] == Role.OWNER


def test_a_removed_member_cannot_act_any_more(organization, members):
    stale = Membership.objects.for_org(organization).get(pk=members[Role.ADMIN].pk)
    Membership.objects.for_org(organization).filter(pk=stale.pk).delete()

    with pytest.raises(Forbidden):
        services.membership_remove(
            membership=members[Role.MEMBER], acting=stale, actor=Actor(user=stale.user)
        )

    assert "member@acme.test" in _roles(organization)


def test_last_owner_conflict_is_a_service_error_too(organization, owner_membership):
    with pytest.raises(Conflict) as raised:
        services.membership_remove(
            membership=owner_membership, acting=owner_membership, actor=Actor(user=owner_membership.user)
        )

    assert raised.value.code == "last_owner"


@pytest.mark.django_db(transaction=True)
def test_two_admins_removing_the_same_member_at_once_remove_it_once():
    import threading

    from django.db import connection

    from tests.factories.organizations import OrganizationFactory

    organization = OrganizationFactory(name="Race", slug="race")
    MembershipFactory(organization=organization, role=Role.OWNER)
    admins = [MembershipFactory(organization=organization, role=Role.ADMIN) for _ in range(3)]
    target = MembershipFactory(organization=organization, role=Role.MEMBER, user__email="target@race.test")
    barrier = threading.Barrier(len(admins))
    outcomes = []

    def remove(admin):
        try:
            barrier.wait(timeout=10)
            services.membership_remove(membership=target, acting=admin, actor=Actor(user=admin.user))
            outcomes.append("removed")
        except Exception as error:  # noqa: BLE001 - the outcome is what the test compares
            outcomes.append(getattr(error, "code", type(error).__name__))
        finally:
            connection.close()

    threads = [threading.Thread(target=remove, args=(admin,)) for admin in admins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["not_found", "not_found", "removed"]
    assert "target@race.test" not in _roles(organization)
    assert AuditEvent.all_tenants.filter(action=AuditAction.MEMBER_REMOVED).count() == 1
