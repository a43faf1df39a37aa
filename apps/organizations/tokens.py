"""Organization API tokens (services): create (the secret is returned once), revoke, authenticate.

A token ``al_ot_<token_id>_<secret>`` acts as the member who created it, within its scopes and
never above that member's current role (apps.organizations.tenancy reads the live membership on
every request). Only a SHA-256 of the secret is stored, as for project API keys.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.core.audit import Actor, AuditAction, audit_record
from apps.core.errors import Conflict, Forbidden, ValidationFailed
from apps.core.roles import Role, role_at_least
from apps.core.text import required_name, sha256_hex
from apps.organizations.models import Membership, Organization, OrganizationToken, TokenScope

TOKEN_PREFIX = "al_ot_"
LAST_USED_RESOLUTION = timedelta(minutes=1)
SCOPE_ORDER = list(TokenScope.values)


def org_token_clean_scopes(scopes) -> list[str]:
    """The scopes as stored (known, unique, in canonical order); 400 ``invalid_scope`` otherwise."""
    if not isinstance(scopes, list | tuple) or not scopes:
        raise ValidationFailed("Choose at least one scope.", code="invalid_scope", field="scopes")
    unknown = [scope for scope in scopes if not isinstance(scope, str) or scope not in SCOPE_ORDER]
    if unknown:
        raise ValidationFailed(
            f"Unknown scope; choose from {', '.join(SCOPE_ORDER)}.", code="invalid_scope", field="scopes"
        )
    return [scope for scope in SCOPE_ORDER if scope in scopes]


def _admin_now(*, organization: Organization, acting: Membership) -> Membership:
    """The acting membership as it is now (a role lowered a moment ago counts)."""
    current = Membership.objects.for_org(organization).select_related("user").filter(pk=acting.pk).first()
    if current is None or not role_at_least(current.role, Role.ADMIN):
        raise Forbidden("Only admins can create organization tokens.")
    return current


@transaction.atomic
def org_token_create(
    *, organization: Organization, acting: Membership, name: str, scopes, actor: Actor
) -> tuple[OrganizationToken, str]:
    """Create a token acting as ``acting``; returns it with the full secret, never retrievable again."""
    name = required_name(name)
    scopes = org_token_clean_scopes(scopes)
    acting = _admin_now(organization=organization, acting=acting)
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = OrganizationToken.objects.create(
        organization=organization, token_id=token_id, name=name, secret_hash=sha256_hex(secret),
        secret_hint=secret[:4], scopes=scopes, membership=acting, created_by=acting.user,
    )
    audit_record(
        organization=organization, actor=actor, action=AuditAction.ORG_TOKEN_CREATED,
        target_type="org_token", target_id=token_id, target_label=name,
        after={"name": name, "scopes": scopes, "acts_as": acting.user.email},
    )
    return token, f"{TOKEN_PREFIX}{token_id}_{secret}"


def _revoke(token: OrganizationToken, *, actor: Actor, reason: str) -> None:
    token.revoked_at = timezone.now()
    token.revoked_by = actor.user if getattr(actor.user, "pk", None) else None
    token.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(
        organization=token.organization, actor=actor, action=AuditAction.ORG_TOKEN_REVOKED,
        target_type="org_token", target_id=token.token_id, target_label=token.name,
        before={"is_active": True}, after={"is_active": False, "reason": reason},
    )


@transaction.atomic
def org_token_revoke(*, token: OrganizationToken, actor: Actor) -> OrganizationToken:
    """Revoke at once: the next request with it is 401 (nothing is cached)."""
    token = (
        OrganizationToken.objects.for_org(token.organization_id).select_for_update().select_related("organization")
        .get(pk=token.pk)
    )
    if token.revoked_at is not None:
        raise Conflict("This token is already revoked.", code="already_revoked")
    _revoke(token, actor=actor, reason="revoked")
    return token


def org_tokens_revoke_for_member(*, membership: Membership, actor: Actor) -> int:
    """Revoke a departing member's active tokens (inside ``membership_remove``'s transaction)."""
    tokens = list(
        OrganizationToken.objects.for_org(membership.organization_id).select_for_update().select_related("organization")
        .filter(membership=membership, revoked_at__isnull=True)
    )
    for token in tokens:
        _revoke(token, actor=actor, reason="member_removed")
    return len(tokens)


def parse_org_token(raw: str) -> tuple[str, str] | None:
    if not raw or not raw.startswith(TOKEN_PREFIX):
        return None
    token_id, separator, secret = raw[len(TOKEN_PREFIX):].partition("_")
    if not separator or not token_id or not secret or len(token_id) > 16:
        return None
    return token_id, secret


def org_token_authenticate(*, raw: str) -> OrganizationToken | None:
    """The active token for a secret, with its organization and live membership (and user), or None.

    None for an unknown, malformed or revoked token, a wrong secret (constant-time compare), a
    member who left the organization or a deactivated user. ``last_used_at`` is written at most
    once a minute per token, so authenticating stays a read.
    """
    parsed = parse_org_token(raw)
    if parsed is None:
        return None
    token_id, secret = parsed
    token = (
        OrganizationToken.all_tenants.select_related("organization", "membership__user")  # unscoped: a token names its organization; it is looked up before any tenant is known
        .filter(token_id=token_id, revoked_at__isnull=True, membership__isnull=False)
        .first()
    )
    if token is None or not hmac.compare_digest(token.secret_hash, sha256_hex(secret)):
        return None
    membership = token.membership
    if membership.organization_id != token.organization_id or not membership.user.is_active:
        return None
    membership.organization = token.organization
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        OrganizationToken.all_tenants.filter(pk=token.pk).update(last_used_at=now)  # unscoped: the row just authenticated
        token.last_used_at = now
    return token
