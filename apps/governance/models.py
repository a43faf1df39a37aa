from django.conf import settings
from django.db import models

from apps.core.audit import AuditAction
from apps.core.models import OrganizationOwnedModel, ProjectOwnedModel


class AuditEvent(OrganizationOwnedModel):
    """Append-only: a database trigger (migration 0002) rejects UPDATE and DELETE.

    Targets are recorded by type, id and label rather than foreign keys so that deleting a
    project or a member never rewrites history.
    """

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    target_type = models.CharField(max_length=40)
    target_id = models.CharField(max_length=64)
    target_label = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    via = models.CharField(
        max_length=40, blank=True, default="",
        help_text="How the actor authenticated when not by a session: `token:<token_id>` (an organization token).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(OrganizationOwnedModel.Meta):
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="governance_audit_created_idx"),
            models.Index(fields=["organization", "action", "-created_at"], name="governance_audit_action_idx"),
            models.Index(fields=["organization", "actor", "-created_at"], name="governance_audit_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_email or 'system'} {self.action} {self.target_type}:{self.target_id}"


# --- retention (apps.governance.expiry) ------------------------------------------------------------

REJECTED_DAYS_DEFAULT = 7


class RejectedRetention(OrganizationOwnedModel):
    """How long a turn a reviewer rejected ("not a failure") is kept after that decision.

    One row per organization, created on first change; no row means the default. The unreviewed
    retention itself is ``Organization.retention_days`` (it predates this app and the organization
    API serves it); this is the second, shorter clock the issue adds.
    """

    days = models.PositiveIntegerField(default=REJECTED_DAYS_DEFAULT)

    class Meta(OrganizationOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="governance_rejectedretention_org_uniq"),
            models.CheckConstraint(condition=models.Q(days__gte=1) & models.Q(days__lte=3650), name="governance_rejectedretention_days_range_check"),
        ]


class ProjectRetention(ProjectOwnedModel):
    """A project's override of its organization's retention (admins set it; audited)."""

    days = models.PositiveIntegerField()

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project"], name="governance_projectretention_project_uniq"),
            models.CheckConstraint(condition=models.Q(days__gte=1) & models.Q(days__lte=3650), name="governance_projectretention_days_range_check"),
        ]


class ExpiryDay(ProjectOwnedModel):
    """What the expire job deleted in one project on one day, by kind (the deletion history).

    Incremented in the transaction of each batch (``INSERT … ON CONFLICT DO UPDATE``), so the
    counts match what was deleted even when a run is killed halfway.
    """

    day = models.DateField()
    turns = models.BigIntegerField(default=0)
    steps = models.BigIntegerField(default=0)
    signals = models.BigIntegerField(default=0)
    feedback = models.BigIntegerField(default=0)
    detection_passes = models.BigIntegerField(default=0)
    judge_verdicts = models.BigIntegerField(default=0)

    KINDS = ("turns", "steps", "signals", "feedback", "detection_passes", "judge_verdicts")

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "day"], name="governance_expiryday_project_day_uniq"),
        ]
