from django.conf import settings
from django.db import models

from apps.core.models import OrganizationOwnedModel


class AuditAction(models.TextChoices):
    ORGANIZATION_CREATED = "organization.created", "Organization created"
    ORGANIZATION_RENAMED = "organization.renamed", "Organization renamed"
    RETENTION_CHANGED = "retention.changed", "Retention changed"
    MEMBER_INVITED = "member.invited", "Member invited"
    INVITATION_REVOKED = "invitation.revoked", "Invitation revoked"
    INVITATION_ACCEPTED = "invitation.accepted", "Invitation accepted"
    MEMBER_ROLE_CHANGED = "member.role_changed", "Role changed"
    MEMBER_REMOVED = "member.removed", "Member removed"
    PROJECT_CREATED = "project.created", "Project created"
    PROJECT_RENAMED = "project.renamed", "Project renamed"
    PROJECT_DELETED = "project.deleted", "Project deleted"
    PROJECT_ACCESS_CHANGED = "project.access_changed", "Project access changed"
    API_KEY_CREATED = "api_key.created", "API key created"
    API_KEY_REVOKED = "api_key.revoked", "API key revoked"
    DETECTOR_CHANGED = "detector.changed", "Detector settings changed"
    RULE_CREATED = "rule.created", "Detection rule created"
    RULE_DELETED = "rule.deleted", "Detection rule deleted"
    QUEUE_CREATED = "queue.created", "Review queue created"
    QUEUE_UPDATED = "queue.updated", "Review queue updated"
    QUEUE_DELETED = "queue.deleted", "Review queue deleted"
    QUEUE_ASSIGNED = "queue.assigned", "Reviewer assigned to a queue"
    QUEUE_UNASSIGNED = "queue.unassigned", "Reviewer removed from a queue"
    REVIEW_DECIDED = "review.decided", "Review decision"
    REVIEW_ASSIGNED = "review.assigned", "Review item assigned"
    TAXONOMY_CHANGED = "taxonomy.changed", "Failure taxonomy changed"
    PROBLEM_UPDATED = "problem.updated", "Problem updated"
    PROBLEM_CAUSE_REVIEWED = "problem.cause_reviewed", "Proposed cause reviewed"
    PROBLEM_MERGED = "problem.merged", "Problems merged"
    PROBLEM_SPLIT = "problem.split", "Problem split"


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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(OrganizationOwnedModel.Meta):
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="governance_audit_created_idx"),
            models.Index(fields=["organization", "action", "-created_at"], name="governance_audit_action_idx"),
            models.Index(fields=["organization", "actor", "-created_at"], name="governance_audit_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_email or 'system'} {self.action} {self.target_type}:{self.target_id}"
