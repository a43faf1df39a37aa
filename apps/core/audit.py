"""The audit log's vocabulary and its door, for every floor: who did what, recorded with the change.

The audit log itself (the append-only table, its pages and API) belongs to ``apps.governance``,
the top floor; the services that change things live on the floors below it and must not import
it. They call ``audit_record`` here, which reaches governance through the hook it registers at
``ready()`` (``apps.core.hooks``); with no governance installed it raises rather than let a
change go unrecorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from apps.core import hooks
from apps.core.http import client_ip

AUDIT_HOOK = "audit.record"


@dataclass(frozen=True)
class Actor:
    """Who did it and from where; every admin service takes one and records it in the audit log."""

    user: object | None
    ip_address: str | None = None
    # How the user authenticated when it was not a session: ``token:<token_id>`` for an
    # organization token acting as its member (the credential's ``audit_via``).
    via: str = ""

    @classmethod
    def from_request(cls, request) -> Actor:
        via = getattr(getattr(request, "auth", None), "audit_via", "") or ""
        return cls(user=request.user if request.user.is_authenticated else None, ip_address=client_ip(request), via=via)


SYSTEM = Actor(user=None)


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
    ORG_TOKEN_CREATED = "org_token.created", "Organization token created"
    ORG_TOKEN_REVOKED = "org_token.revoked", "Organization token revoked"
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
    PROMPT_VERSION_CREATED = "prompt.version_created", "Prompt version created"
    PROMPT_LABEL_MOVED = "prompt.label_moved", "Prompt label moved"
    PROMPT_LABEL_PROTECTION = "prompt.label_protection", "Prompt label protection changed"
    CHANGE_CREATED = "change.created", "Change created"
    CHANGE_PROMOTED = "change.promoted", "Change promoted"
    CHANGE_OVERRIDDEN = "change.promotion_overridden", "Change promoted without a ship verdict"
    CHANGE_ROLLED_BACK = "change.rolled_back", "Change rolled back"
    DATASET_CREATED = "dataset.created", "Dataset created"
    DATASET_UPDATED = "dataset.updated", "Dataset renamed or archived"
    DATASET_AUTO_ADD = "dataset.auto_add", "Queue auto-add to a dataset changed"
    DATASET_IMPORTED = "dataset.imported", "Cases imported into a dataset"
    REDACTION_CHANGED = "redaction.changed", "PII redaction settings changed"
    END_USER_EXPORTED = "end_user.exported", "End-user data exported"
    END_USER_DELETED = "end_user.deleted", "End-user data deleted"


def audit_record(
    *,
    organization,
    actor: Actor,
    action: AuditAction,
    target_type: str,
    target_id,
    target_label: str = "",
    before: dict | None = None,
    after: dict | None = None,
):
    """Append one audit row. Call inside the service's transaction so it commits with the change."""
    return hooks.call(
        AUDIT_HOOK,
        organization=organization,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        before=before,
        after=after,
    )
