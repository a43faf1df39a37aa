from __future__ import annotations

from django.db.models import F
from django.http import Http404

from apps.core.roles import Role
from apps.organizations.models import Invitation, Membership, Organization, OrganizationToken


def organization_membership_get(*, slug: str, user) -> tuple[Organization, Membership]:
    """The organization and the user's membership in it; 404 for strangers and unknown slugs alike."""
    membership = (
        Membership.all_tenants.select_related("organization")  # unscoped: resolving the tenant itself
        .filter(organization__slug=slug, user=user)
        .first()
    )
    if membership is None:
        raise Http404("No such organization.")
    return membership.organization, membership


def organization_list_for_user(*, user) -> list[Membership]:
    return list(
        Membership.all_tenants.select_related("organization")  # unscoped: a user's own memberships
        .filter(user=user)
        .order_by("organization__name")
    )


def membership_list(*, organization: Organization):
    return Membership.objects.for_org(organization).select_related("user").order_by("user__email")


def membership_get(*, organization: Organization, membership_id) -> Membership:
    membership = membership_list(organization=organization).filter(pk=membership_id).first()
    if membership is None:
        raise Http404("No such member.")
    return membership


def membership_owner_count(*, organization: Organization) -> int:
    return Membership.objects.for_org(organization).filter(role=Role.OWNER).count()


def invitation_list(*, organization: Organization):
    return Invitation.objects.for_org(organization).select_related("invited_by").order_by("-created_at")


def invitation_list_open(*, organization: Organization):
    return invitation_list(organization=organization).filter(accepted_at__isnull=True, revoked_at__isnull=True)


def invitation_get(*, organization: Organization, invitation_id) -> Invitation:
    invitation = invitation_list(organization=organization).filter(pk=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation


def org_token_list(*, organization: Organization):
    """Every token of the organization, active first, newest first (revoked ones stay listed)."""
    return (
        OrganizationToken.objects.for_org(organization)
        .select_related("membership__user", "created_by", "revoked_by")
        .order_by(F("revoked_at").desc(nulls_first=True), "-created_at", "-pk")
    )


def org_token_get(*, organization: Organization, token_id: str) -> OrganizationToken:
    token = org_token_list(organization=organization).filter(token_id=token_id).first()
    if token is None:
        raise Http404("No such token.")
    return token
