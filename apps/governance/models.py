from django.conf import settings
from django.db import models

from apps.core.audit import AuditAction
from apps.core.models import OrganizationOwnedModel


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
