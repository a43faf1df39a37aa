from __future__ import annotations

from django.db import transaction

from apps.core.audit import Actor, AuditAction
from apps.governance.models import REJECTED_DAYS_DEFAULT, AuditEvent, ProjectRetention, RejectedRetention
from apps.organizations.services import retention_days_check


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
) -> AuditEvent:
    """Store one audit row (registered as the ``audit.record`` hook; services call apps.core.audit)."""
    user = actor.user
    return AuditEvent.objects.create(
        organization=organization,
        actor=user,
        actor_email=getattr(user, "email", "") or "",
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        target_label=str(target_label)[:200],
        before=before,
        after=after,
        ip_address=actor.ip_address,
        via=actor.via,
    )


# --- retention settings (apps.governance.expiry reads them) -------------------------------------


@transaction.atomic
def project_retention_set(*, project, actor: Actor, days: int | None) -> int | None:
    """Override the project's retention (``None`` goes back to the organization's); audited with
    before/after. Returns the override now in force."""
    if days is not None:
        retention_days_check(days)
    current = ProjectRetention.objects.for_project(project).select_for_update().first()
    before = current.days if current else None
    if before == days:
        return days
    if days is None:
        current.delete()
    elif current:
        current.days = days
        current.save(update_fields=["days"])
    else:
        ProjectRetention.objects.create(project=project, days=days)
    audit_record(
        organization=project.organization, actor=actor, action=AuditAction.RETENTION_CHANGED,
        target_type="project", target_id=project.pk, target_label=project.name,
        before={"retention_days": before}, after={"retention_days": days},
    )
    return days


@transaction.atomic
def rejected_retention_set(*, organization, actor: Actor, days: int) -> int:
    """How long rejected turns are kept after the decision, for the whole organization; audited."""
    retention_days_check(days, field="rejected_days")
    current = RejectedRetention.objects.for_org(organization).select_for_update().first()
    before = current.days if current else REJECTED_DAYS_DEFAULT
    if before != days:
        if current:
            current.days = days
            current.save(update_fields=["days"])
        else:
            RejectedRetention.objects.create(organization=organization, days=days)
        audit_record(
            organization=organization, actor=actor, action=AuditAction.RETENTION_CHANGED,
            target_type="organization", target_id=organization.slug, target_label=organization.name,
            before={"rejected_days": before}, after={"rejected_days": days},
        )
    return days
