"""Expiry of children that never saw their turn ("waiting for their turn").

Such feedback, signals and steps are kept durably for the organization's retention period
(their ``expires_at``), then deleted in bounded batches. Children of a turn that did arrive are
left alone here: they live and die with their turn. The same pass clears ``waiting`` flags left
stale by a child and its turn committed at the same moment (see apps.traces.models).
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from django.utils import timezone

from apps.traces.models import Feedback, Signal, Step, Turn

BATCH_SIZE = 5000
CHILDREN = (Feedback, Signal, Step)


def _turn_exists() -> Exists:
    """The child row's turn is stored (in the child's own project)."""
    return Exists(
        Turn.all_tenants.filter(project_id=OuterRef("project_id"), id=OuterRef("turn_id"))  # unscoped: maintenance sweep over every project
    )


def waiting_flags_clear(*, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Clear the flag of waiting children whose turn is stored; bounded work per call, idempotent."""
    cleared, turn_exists = {}, _turn_exists()
    for model in CHILDREN:
        ids = list(model.all_tenants.filter(waiting=True).filter(turn_exists).values_list("pk", flat=True)[:batch_size])  # unscoped: maintenance sweep over every project
        cleared[model._meta.label_lower] = model.all_tenants.filter(pk__in=ids).update(waiting=False) if ids else 0  # unscoped: rows selected above
    return cleared


def waiting_expire(*, batch_size: int = BATCH_SIZE, max_batches: int = 20) -> dict[str, int]:
    """Delete expired waiting children across all projects; bounded work per call, idempotent."""
    now = timezone.now()
    deleted, turn_exists = {}, _turn_exists()
    for model in CHILDREN:
        total = 0
        for _ in range(max_batches):
            expired = model.all_tenants.filter(expires_at__lt=now).filter(~turn_exists)  # unscoped: maintenance sweep over every project
            ids = list(expired.values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            total += model.all_tenants.filter(pk__in=ids).filter(~turn_exists).delete()[0]  # unscoped: rows selected above
        deleted[model._meta.label_lower] = total
    return deleted
