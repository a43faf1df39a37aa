"""Shared pieces of the permission matrices (organizations, projects, audit log).

Each matrix row is ``(role, status, allowed)``: the caller's relation to organization
``acme``, the exact status expected, and whether the action may change anything.
"""

from __future__ import annotations

from rest_framework.test import APIClient

from apps.core.roles import Role
from apps.governance.models import AuditEvent
from apps.organizations.models import Membership
from tests.conftest import client_for
from tests.factories.organizations import org_token_with_secret

ANONYMOUS = "anonymous"
OUTSIDER = "outsider"
CALLERS = [ANONYMOUS, OUTSIDER, Role.MEMBER, Role.REVIEWER, Role.ADMIN, Role.OWNER]
# How an API matrix authenticates: the session, or an organization token with every scope acting
# as the same person (the outsider's token is of their own organization).
AUTH_MODES = ["session", "token"]


def user_for(role, *, members, outsider):
    if role == ANONYMOUS:
        return None
    if role == OUTSIDER:
        return outsider
    return members[role].user


def caller(role, *, members, outsider, api: bool = False, auth: str = "session"):
    """A test client acting as ``role`` (HTML client, or DRF's for ``api=True``; with
    ``auth="token"`` a DRF client sending that person's organization token instead of a session)."""
    user = user_for(role, members=members, outsider=outsider)
    if auth == "session":
        return client_for(user, api=api)
    client = APIClient()
    if user is not None:
        membership = members[role] if role in members else Membership.all_tenants.get(user=user)  # unscoped: the outsider's one organization
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {org_token_with_secret(membership=membership)[1]}")
    return client


def audit_count() -> int:
    return AuditEvent.all_tenants.count()


def assert_html_refused(response, role, path: str) -> None:
    """Anonymous → login redirect; outsider → 404 (never 403); a member lacking the role → 403."""
    if role == ANONYMOUS:
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={path}"
    elif role == OUTSIDER:
        assert response.status_code == 404
        assert b"Page not found" in response.content
    else:
        assert response.status_code == 403
        assert b"Not allowed" in response.content


def assert_api_refused(response, role) -> None:
    """Anonymous → 403 not_authenticated; outsider → 404 not_found; lacking the role → 403."""
    expected = {
        ANONYMOUS: (403, "not_authenticated"),
        OUTSIDER: (404, "not_found"),
    }.get(role, (403, "permission_denied"))
    assert (response.status_code, response.json()["code"]) == expected


def role_rows(allowed_status, minimum: str = Role.ADMIN):
    """The matrix for an action that needs ``minimum``; allowed callers get ``allowed_status``."""
    ranks = [Role.MEMBER, Role.REVIEWER, Role.ADMIN, Role.OWNER]
    rows = [(ANONYMOUS, "refused", False), (OUTSIDER, "refused", False)]
    for role in ranks:
        allowed = ranks.index(role) >= ranks.index(minimum)
        rows.append((role, allowed_status if allowed else "refused", allowed))
    return rows
