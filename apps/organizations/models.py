from django.conf import settings
from django.contrib.postgres.fields import ArrayField
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


class TokenScope(models.TextChoices):
    """What an organization token may do, on top of (never above) its member's role.

    ``read`` is every safe request; ``review`` claims and decides in the queues the member works;
    ``datasets`` writes dataset cases and prompt versions; ``admin`` is everything the member's
    role allows. Every scope includes ``read``, and ``admin`` includes every scope.
    """

    READ = "read", "Read"
    REVIEW = "review", "Review"
    DATASETS = "datasets", "Datasets"
    ADMIN = "admin", "Admin"


def token_scopes_allow(scopes, needed: str) -> bool:
    """Whether a token holding ``scopes`` may do what needs ``needed``."""
    held = set(scopes)
    return bool(held) and (needed in held or TokenScope.ADMIN in held or needed == TokenScope.READ)


class OrganizationToken(OrganizationOwnedModel):
    """A management API token ``al_ot_<token_id>_<secret>`` acting as the member who made it.

    Only a SHA-256 of the secret is kept (256 bits of entropy: a fast hash is safe). The token
    authenticates only while it is not revoked and its member still belongs to the organization
    (``membership`` becomes NULL when the member is removed; a member who rejoins gets a new
    membership, so an old token stays disabled). Its rights are its scopes bounded by that
    member's current role, read on every request.
    """

    token_id = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=100)
    secret_hash = models.CharField(max_length=64)
    secret_hint = models.CharField(max_length=8, help_text="First characters of the secret, for recognition.")
    scopes = ArrayField(models.CharField(max_length=16, choices=TokenScope.choices), size=len(TokenScope.values))
    membership = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The member the token acts as; NULL once that member left (the token is then disabled).",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(OrganizationOwnedModel.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(scopes__contained_by=TokenScope.values) & Q(scopes__len__gte=1)
                & Q(scopes__len__lte=len(TokenScope.values)),
                name="organizations_organizationtoken_scopes_check",
            ),
        ]
        indexes = [models.Index(fields=["organization", "-created_at"], name="organizations_token_idx")]

    @property
    def prefix(self) -> str:
        return f"al_ot_{self.token_id}_{self.secret_hint}…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.membership_id is not None

    @property
    def audit_via(self) -> str:
        """What the audit log records beside the member for an action taken with this token."""
        return f"token:{self.token_id}"

    def allows(self, needed: str) -> bool:
        return token_scopes_allow(self.scopes, needed)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"
