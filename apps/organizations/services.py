from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from apps.core import hooks
from apps.core.errors import Conflict, Forbidden, Gone, NotFound, ServiceError, ValidationFailed
from apps.core.roles import Role, role_at_least
from apps.core.text import required_name, sha256_hex, single_line
from apps.core.audit import Actor, AuditAction, audit_record
from apps.organizations.models import (
    RETENTION_DAYS_MAX,
    RETENTION_DAYS_MIN,
    Invitation,
    Membership,
    Organization,
)
from apps.organizations.tokens import org_tokens_revoke_for_member

# Called inside membership_remove's transaction, before the membership row goes; the floors above
# that grant per-member rights (project access) register here.
MEMBER_REMOVED_HOOK = "organizations.member_removed"

logger = logging.getLogger(__name__)


class EmailFailed(ServiceError):
    """The mail server refused or could not be reached: 502, and nothing was written."""

    status = 502
    code = "email_failed"


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "org"
    slug, suffix = base, 2
    while Organization.objects.filter(slug=slug).exists():
        slug = f"{base}-{suffix}"
        suffix += 1
    return slug


def _lock(organization: Organization) -> Organization:
    """Serialise membership changes of one organization (last-owner checks are race-free)."""
    return Organization.objects.select_for_update().get(pk=organization.pk)


def _acting_now(*, organization: Organization, acting: Membership) -> Membership:
    """The caller's membership as it is now, read under the organization lock.

    The request resolved it before the lock was taken; a concurrent request may since have
    demoted or removed the caller, and the decision must rest on the current role.
    """
    current = Membership.objects.for_org(organization).filter(pk=acting.pk).first()
    if current is None:
        raise Forbidden("You are no longer a member of this organization.")
    return current


def _target_now(*, organization: Organization, membership: Membership) -> Membership:
    """The membership being changed, re-read under the lock (a concurrent request may have removed it)."""
    current = Membership.objects.for_org(organization).select_related("user").filter(pk=membership.pk).first()
    if current is None:
        raise NotFound("That member is no longer in this organization.", code="not_found")
    return current


@transaction.atomic
def organization_create(*, name: str, owner, actor: Actor, slug: str | None = None) -> Organization:
    name = required_name(name)
    organization = Organization.objects.create(name=name, slug=slug or _unique_slug(name))
    Membership.objects.create(organization=organization, user=owner, role=Role.OWNER)
    audit_record(
        organization=organization, actor=actor, action=AuditAction.ORGANIZATION_CREATED,
        target_type="organization", target_id=organization.slug, target_label=name, after={"name": name},
    )
    return organization


def retention_days_check(days, *, field: str = "retention_days") -> int:
    """A retention is a whole number of days within the model's range (also governance's overrides)."""
    if isinstance(days, bool) or not isinstance(days, int):
        raise ValidationFailed("Retention must be a whole number of days.", field=field)
    if not RETENTION_DAYS_MIN <= days <= RETENTION_DAYS_MAX:
        raise ValidationFailed(
            f"Retention must be between {RETENTION_DAYS_MIN} and {RETENTION_DAYS_MAX} days.", code="out_of_range", field=field,
        )
    return days


@transaction.atomic
def organization_update(
    *, organization: Organization, actor: Actor, name: str | None = None, retention_days: int | None = None
) -> Organization:
    organization = _lock(organization)
    if name is not None:
        name = required_name(name)
        if name != organization.name:
            audit_record(
                organization=organization, actor=actor, action=AuditAction.ORGANIZATION_RENAMED,
                target_type="organization", target_id=organization.slug, target_label=name,
                before={"name": organization.name}, after={"name": name},
            )
            organization.name = name
    if retention_days is not None:
        retention_days_check(retention_days)
        if retention_days != organization.retention_days:
            audit_record(
                organization=organization, actor=actor, action=AuditAction.RETENTION_CHANGED,
                target_type="organization", target_id=organization.slug, target_label=organization.name,
                before={"retention_days": organization.retention_days}, after={"retention_days": retention_days},
            )
            organization.retention_days = retention_days
    organization.save()
    return organization


def _check_can_grant(*, acting: Membership, role: str) -> None:
    if role not in Role.values:
        raise ValidationFailed(f"Unknown role {role!r}.", code="invalid_choice", field="role")
    if role == Role.OWNER and acting.role != Role.OWNER:
        raise Forbidden("Only owners can grant the owner role.", field="role")


def invitation_url(token: str) -> str:
    return f"{settings.SITE_URL}{reverse('invitation_accept', kwargs={'token': token})}"


@transaction.atomic
def invitation_create(
    *, organization: Organization, acting: Membership, email: str, role: str, actor: Actor
) -> tuple[Invitation, str]:
    """Invite an address; re-inviting it revokes the earlier open invitation. Returns the token once.

    The e-mail leaves before the transaction commits: when it cannot be sent this raises
    ``EmailFailed`` (502 ``email_failed``) and nothing is stored. The rare opposite case (sent,
    then the commit fails) leaves a link that answers "not valid", never a half-made invitation.
    """
    organization = _lock(organization)
    acting = _acting_now(organization=organization, acting=acting)
    email = (email or "").strip().lower()
    if not email or "@" not in email:
        raise ValidationFailed("Enter a valid e-mail address.", field="email")
    _check_can_grant(acting=acting, role=role)
    if Membership.objects.for_org(organization).filter(user__email__iexact=email).exists():
        raise Conflict(f"{email} is already a member.", code="already_member", field="email")
    now = timezone.now()
    Invitation.objects.for_org(organization).filter(
        email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=organization, email=email, role=role, token_hash=sha256_hex(token),
        invited_by=actor.user, expires_at=now + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    audit_record(
        organization=organization, actor=actor, action=AuditAction.MEMBER_INVITED,
        target_type="invitation", target_id=invitation.pk, target_label=email, after={"email": email, "role": role},
    )
    _invitation_send(organization=organization, inviter=getattr(actor.user, "email", "An administrator"),
                     email=email, role=role, token=token)
    return invitation, token


def _invitation_send(*, organization: Organization, inviter: str, email: str, role: str, token: str) -> None:
    """Send the invitation e-mail inside the invitation's transaction.

    A refused send raises ``EmailFailed`` and so rolls back everything ``invitation_create``
    wrote (the new invitation, its audit row, the revocation of an earlier one): an invitation
    exists only if its e-mail left. The name goes through ``single_line`` because a row stored
    before names were checked may hold CR/LF, which would otherwise make the subject an
    invalid (or injected) header.
    """
    name = single_line(organization.name)
    try:
        send_mail(
            subject=f"You're invited to {name} on AgentLoop",
            message=(
                f"{inviter} invited you to join {name} on AgentLoop as {role}.\n\n"
                f"Accept the invitation: {invitation_url(token)}\n\n"
                f"The link works once and expires in {settings.INVITATION_TTL_DAYS} days."
            ),
            from_email=None,
            recipient_list=[email],
        )
    except Exception as error:  # noqa: BLE001 - any backend failure (SMTP, socket, header) is the same refusal
        logger.warning("invitation e-mail to %s for %s not sent", email, organization.slug, exc_info=True)
        raise EmailFailed(
            f"The invitation e-mail could not be sent ({type(error).__name__}); nothing was saved. "
            "Check the mail server settings and try again."
        ) from error


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: Actor) -> Invitation:
    invitation = Invitation.objects.for_org(invitation.organization_id).select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at or invitation.revoked_at:
        raise Conflict("This invitation is no longer open.", code="invitation_closed")
    now = timezone.now()
    before = invitation.status_at(now)
    invitation.revoked_at = now
    invitation.save(update_fields=["revoked_at"])
    audit_record(
        organization=invitation.organization, actor=actor, action=AuditAction.INVITATION_REVOKED,
        target_type="invitation", target_id=invitation.pk, target_label=invitation.email,
        before={"status": before, "role": invitation.role}, after={"status": Invitation.Status.REVOKED},
    )
    return invitation


def invitation_lookup(*, token: str) -> Invitation:
    """The invitation for a token, whatever its state (the accept page explains each state)."""
    invitation = (
        Invitation.all_tenants.select_related("organization", "invited_by")  # unscoped: the token is the tenant key
        .filter(token_hash=sha256_hex(token))
        .first()
    )
    if invitation is None:
        raise NotFound("This invitation link is not valid.", code="invitation_not_found")
    return invitation


def invitation_check_open(*, invitation: Invitation) -> None:
    status = invitation.status_at(timezone.now())
    if status == Invitation.Status.ACCEPTED:
        raise Gone("This invitation has already been used.", code="invitation_used")
    if status == Invitation.Status.REVOKED:
        raise Gone("This invitation was revoked by an administrator.", code="invitation_revoked")
    if status == Invitation.Status.EXPIRED:
        raise Gone("This invitation has expired. Ask an administrator for a new one.", code="invitation_expired")


@transaction.atomic
def invitation_accept(*, token: str, user, actor: Actor) -> Membership:
    """Single use: the row lock makes two concurrent accepts end with one membership."""
    found = invitation_lookup(token=token)
    invitation = Invitation.all_tenants.select_for_update().get(pk=found.pk)  # unscoped: row found by token
    invitation_check_open(invitation=invitation)
    if invitation.email.lower() != user.email.lower():
        raise Forbidden(
            f"This invitation was sent to {invitation.email}, but you are signed in as {user.email}.",
            code="invitation_wrong_account",
        )
    organization = invitation.organization
    try:
        with transaction.atomic():
            membership = Membership.objects.create(organization=organization, user=user, role=invitation.role)
    except IntegrityError:
        raise Conflict(f"You are already a member of {organization.name}.", code="already_member") from None
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        organization=organization, actor=actor, action=AuditAction.INVITATION_ACCEPTED,
        target_type="member", target_id=membership.pk, target_label=user.email, after={"role": invitation.role},
    )
    return membership


def _check_manageable(*, acting: Membership, target: Membership) -> None:
    if target.role == Role.OWNER and acting.role != Role.OWNER:
        raise Forbidden("Only owners can change or remove an owner.")


def _check_not_last_owner(*, organization: Organization, target: Membership) -> None:
    if target.role != Role.OWNER:
        return
    owners = Membership.objects.for_org(organization).filter(role=Role.OWNER).count()
    if owners <= 1:
        raise Conflict(
            "An organization always keeps at least one owner; make someone else owner first.",
            code="last_owner",
        )


@transaction.atomic
def membership_change_role(*, membership: Membership, acting: Membership, role: str, actor: Actor) -> Membership:
    organization = _lock(membership.organization)
    acting = _acting_now(organization=organization, acting=acting)
    membership = _target_now(organization=organization, membership=membership)
    _check_can_grant(acting=acting, role=role)
    _check_manageable(acting=acting, target=membership)
    if role == membership.role:
        return membership
    if role != Role.OWNER:
        _check_not_last_owner(organization=organization, target=membership)
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        organization=organization, actor=actor, action=AuditAction.MEMBER_ROLE_CHANGED,
        target_type="member", target_id=membership.pk, target_label=membership.user.email,
        before={"role": before}, after={"role": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, acting: Membership, actor: Actor) -> None:
    organization = _lock(membership.organization)
    acting = _acting_now(organization=organization, acting=acting)
    membership = _target_now(organization=organization, membership=membership)
    if membership.pk != acting.pk:
        _check_manageable(acting=acting, target=membership)
        if not role_at_least(acting.role, Role.ADMIN):
            raise Forbidden("Only admins can remove members.")
    _check_not_last_owner(organization=organization, target=membership)
    hooks.call(MEMBER_REMOVED_HOOK, membership=membership)  # apps.projects drops its grants
    org_tokens_revoke_for_member(membership=membership, actor=actor)  # they act as this member
    audit_record(
        organization=organization, actor=actor, action=AuditAction.MEMBER_REMOVED,
        target_type="member", target_id=membership.pk, target_label=membership.user.email,
        before={"role": membership.role},
    )
    membership.delete()
