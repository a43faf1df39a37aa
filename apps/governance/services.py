from __future__ import annotations

from dataclasses import dataclass

from apps.governance.models import AuditAction, AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who did it and from where; every admin service takes one and records it in the audit log."""

    user: object | None
    ip_address: str | None = None

    @classmethod
    def from_request(cls, request) -> Actor:
        from apps.core.http import client_ip

        return cls(user=request.user if request.user.is_authenticated else None, ip_address=client_ip(request))


SYSTEM = Actor(user=None)


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
    """Append one audit row. Call inside the service's transaction so it commits with the change."""
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
    )
