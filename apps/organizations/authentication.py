"""Bearer organization-token authentication for the management API (``/api/v1/orgs/…``).

``Authorization: Bearer al_ot_<token_id>_<secret>`` authenticates as the member who created the
token; ``request.auth`` is the token (its scopes are checked by ``TokenScopePermission``). A
request without a Bearer header falls through to the session (which still needs CSRF), so a
proxy's ``Basic`` credentials never get in the way of the browser.
"""

from __future__ import annotations

from rest_framework import authentication, exceptions, permissions

from apps.organizations.models import OrganizationToken
from apps.organizations.tokens import TOKEN_PREFIX, org_token_authenticate

CHALLENGE = 'Bearer realm="agentloop"'


def bearer_value(request) -> str | None:
    """The credential of an ``Authorization: Bearer …`` header, or None when there is none."""
    header = authentication.get_authorization_header(request).decode("latin-1")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return raw.strip()


class OrganizationTokenAuthentication(authentication.BaseAuthentication):
    """A valid token → (its member's user, the token); a Bearer header with anything else → 401."""

    # What apps.core.openapi documents for the operations this authenticates.
    error_statuses = (401, 429)
    unauthorized_description = (
        "A Bearer credential that is not a valid organization token: unknown, malformed, revoked, "
        "its member left the organization, or a project key (`invalid_token`)."
    )

    def authenticate(self, request):
        raw = bearer_value(request)
        if raw is None:
            return None
        if not raw.startswith(TOKEN_PREFIX):
            message = "Use 'Authorization: Bearer al_ot_<id>_<secret>' (an organization token)."
            if raw.startswith("al_sk_"):
                message = (
                    "A project API key (al_sk_…) authenticates ingestion only; the management API takes an "
                    "organization token (al_ot_…) or a signed-in session."
                )
            raise exceptions.AuthenticationFailed(message, code="invalid_token")
        token = org_token_authenticate(raw=raw)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked organization token.", code="invalid_token")
        return token.membership.user, token

    def authenticate_header(self, request) -> str | None:
        """The challenge (so a refused token is 401) only to a caller that sent a Bearer header:
        an anonymous browser request keeps its 403 ``not_authenticated``. ``request`` is None when
        the OpenAPI schema asks."""
        if request is None or bearer_value(request) is not None:
            return CHALLENGE
        return None


def request_token(request) -> OrganizationToken | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, OrganizationToken) else None


class TokenScopePermission(permissions.BasePermission):
    """A token's scope must cover the action (``view.token_scope_required()``); sessions pass.

    Runs after the role check: a token never does more than its member's role allows, and a
    missing scope is 403 ``token_scope`` naming the scope needed.
    """

    code = "token_scope"

    def has_permission(self, request, view) -> bool:
        token = request_token(request)
        if token is None or view.action is None:
            return True
        needed = view.token_scope_required()
        if needed is not None and token.allows(needed):
            return True
        self.message = (
            f"This token's scopes ({', '.join(token.scopes)}) do not include '{needed}', which this operation needs."
            if needed else "No token scope grants this operation."
        )
        return False
