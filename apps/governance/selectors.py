from apps.governance.models import AuditEvent


def audit_event_list(*, organization, actor_id=None, action: str | None = None):
    events = AuditEvent.objects.for_org(organization).order_by("-created_at", "-id")
    if actor_id:
        events = events.filter(actor_id=actor_id)
    if action:
        events = events.filter(action=action)
    return events


def audit_actor_choices(*, organization) -> list[tuple[int, str]]:
    rows = (
        AuditEvent.objects.for_org(organization)
        .exclude(actor_id=None)
        .values_list("actor_id", "actor_email")
        .distinct()
        .order_by("actor_email")
    )
    return list(rows)
