from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from apps.core.models import OrganizationOwnedModel
from apps.core.roles import Role

RETENTION_DAYS_DEFAULT = 30
RETENTION_DAYS_MIN = 1
RETENTION_DAYS_MAX = 3650


class Organization(models.Model):
    """The tenant. Everything a team owns hangs off one organization."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    retention_days = models.PositiveIntegerField(
        default=RETENTION_DAYS_DEFAULT,
        help_text="Days an unreviewed turn is kept before TTL expiry deletes it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(retention_days__gte=RETENTION_DAYS_MIN)
                & Q(retention_days__lte=RETENTION_DAYS_MAX),
                name="organizations_organization_retention_range_check",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(OrganizationOwnedModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(OrganizationOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="organizations_membership_user_uniq"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="organizations_membership_role_check"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class Invitation(OrganizationOwnedModel):
    """An e-mailed, single-use, expiring invitation. Only a SHA-256 hash of its token is stored."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(OrganizationOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(
                "organization",
                Lower("email"),
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="organizations_invitation_open_email_uniq",
            ),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="organizations_invitation_role_check"),
        ]

    def status_at(self, now) -> str:
        if self.accepted_at:
            return self.Status.ACCEPTED
        if self.revoked_at:
            return self.Status.REVOKED
        if self.expires_at <= now:
            return self.Status.EXPIRED
        return self.Status.PENDING

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.organization}"
