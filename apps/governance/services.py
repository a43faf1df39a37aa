from __future__ import annotations

from apps.core.audit import Actor, AuditAction
from apps.governance.models import AuditEvent


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
