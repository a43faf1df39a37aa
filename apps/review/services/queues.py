"""Writes of review queues: creating and configuring them, assigning reviewers, the failure taxonomy.

Every change is audited (before/after); an unchanged queue writes no audit row.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from apps.core.errors import ValidationFailed
from apps.core.permissions import object_permission_grant, object_permission_revoke
from apps.core.text import required_name
from apps.core.audit import Actor, AuditAction, audit_record
from apps.review.models import (
    DEFAULT_QUEUE_NAME, DEFAULT_TAXONOMY, MAX_REVIEWERS_PER_ITEM, WORK_PERMISSION, FailureTaxonomy, ReviewQueue,
)

MAX_KINDS = 50
MAX_CATEGORIES = 50


def _clean_routing(routing: dict | None) -> dict:
    routing = routing or {}
    kinds = routing.get("signal_kinds") or []
    if not isinstance(kinds, list) or len(kinds) > MAX_KINDS or not all(isinstance(k, str) and 0 < len(k) <= 64 for k in kinds):
        raise ValidationFailed("Signal kinds are a list of up to 50 names.", field="signal_kinds")
    try:
        priority = int(routing.get("priority") or 0)
        sample = int(100 if routing.get("sample_percent") is None else routing["sample_percent"])
    except (TypeError, ValueError):
        raise ValidationFailed("Priority and sample percentage are whole numbers.", field="priority") from None
    if not -1000 <= priority <= 1000:
        raise ValidationFailed("Priority is between -1000 and 1000.", field="priority")
    if not 0 <= sample <= 100:
        raise ValidationFailed("The sample percentage is between 0 and 100.", field="sample_percent")
    any_turn = routing.get("any_turn", False)
    if not isinstance(any_turn, bool):
        raise ValidationFailed('"any_turn" is true or false.', field="any_turn")
    return {"signal_kinds": sorted(set(kinds)), "any_turn": any_turn, "priority": priority, "sample_percent": sample}


def _queue_state(queue: ReviewQueue) -> dict:
    return {
        "name": queue.name, "description": queue.description, "lease_seconds": queue.lease_seconds,
        "routing": queue.routing, "escalate_to": queue.escalate_to_id,
        "reviewers_per_item": queue.reviewers_per_item, "blind": queue.blind,
    }


def _check_queue_numbers(lease_seconds: int | None, reviewers_per_item: int | None) -> None:
    if lease_seconds is not None and not 30 <= lease_seconds <= 24 * 3600:
        raise ValidationFailed("The lease is between 30 seconds and a day.", field="lease_seconds")
    if reviewers_per_item is not None and not 1 <= reviewers_per_item <= MAX_REVIEWERS_PER_ITEM:
        raise ValidationFailed(
            f"Reviewers per item is between 1 and {MAX_REVIEWERS_PER_ITEM}.", field="reviewers_per_item"
        )


def _check_escalate_to(project, escalate_to, queue=None) -> None:
    if escalate_to is None:
        return
    if escalate_to.project_id != project.pk:
        raise ValidationFailed("No such queue.", field="escalate_to")
    if queue is not None and escalate_to.pk == queue.pk:
        raise ValidationFailed("A queue cannot escalate to itself.", field="escalate_to")


@transaction.atomic
def review_queue_create(
    *, project, actor: Actor, name: str, description: str = "", lease_seconds: int = 600,
    routing: dict | None = None, escalate_to: ReviewQueue | None = None, reviewers_per_item: int = 1,
    blind: bool = False,
) -> ReviewQueue:
    _check_escalate_to(project, escalate_to)
    _check_queue_numbers(lease_seconds, reviewers_per_item)
    queue = ReviewQueue(
        project=project, name=required_name(name), description=description, lease_seconds=lease_seconds,
        routing=_clean_routing(routing), escalate_to=escalate_to, reviewers_per_item=reviewers_per_item,
        blind=bool(blind),
    )
    try:
        with transaction.atomic():
            queue.save()
    except IntegrityError:
        raise ValidationFailed("A queue with that name already exists.", code="duplicate_name", field="name") from None
    audit_record(
        organization=project.organization, actor=actor, action=AuditAction.QUEUE_CREATED,
        target_type="review_queue", target_id=queue.pk, target_label=queue.name, after=_queue_state(queue),
    )
    return queue


def review_default_queue_ensure(*, project) -> ReviewQueue:
    """The project's catch-all queue, made if it has none (on project creation, through the
    ``projects.project_created`` hook; the data migration did the same for older projects).
    Race-safe: the partial unique constraint allows one default per project."""
    existing = ReviewQueue.objects.for_project(project).filter(is_default=True).first()
    if existing is not None:
        return existing
    taken = set(ReviewQueue.objects.for_project(project).filter(name__startswith=DEFAULT_QUEUE_NAME).values_list("name", flat=True))
    name = next(n for n in [DEFAULT_QUEUE_NAME, *(f"{DEFAULT_QUEUE_NAME} {i}" for i in range(2, 10_000))] if n not in taken)
    try:
        with transaction.atomic():
            return ReviewQueue.objects.create(
                project=project, name=name, is_default=True, routing=_clean_routing({}),
                description="Turns logged with no signal at all (e.g. by log_turn_if).",
            )
    except IntegrityError:
        return ReviewQueue.objects.for_project(project).get(is_default=True)


@transaction.atomic
def review_queue_update(*, queue: ReviewQueue, actor: Actor, **fields) -> ReviewQueue:
    queue = ReviewQueue.objects.for_project(queue.project_id).select_for_update().get(pk=queue.pk)
    before = _queue_state(queue)
    if "routing" in fields:
        fields["routing"] = _clean_routing(fields["routing"])
    if "escalate_to" in fields:
        _check_escalate_to(queue.project, fields["escalate_to"], queue)
    _check_queue_numbers(fields.get("lease_seconds"), fields.get("reviewers_per_item"))
    for name, value in fields.items():
        if name not in {"name", "description", "lease_seconds", "routing", "escalate_to", "reviewers_per_item", "blind"}:
            raise ValidationFailed(f"Unknown field {name}.", field=name)
        setattr(queue, name, required_name(value) if name == "name" else value)
    try:
        with transaction.atomic():
            queue.save()
    except IntegrityError:
        raise ValidationFailed("A queue with that name already exists.", code="duplicate_name", field="name") from None
    after = _queue_state(queue)
    if after == before:
        return queue  # nothing changed: no audit row
    audit_record(
        organization=queue.project.organization, actor=actor, action=AuditAction.QUEUE_UPDATED,
        target_type="review_queue", target_id=queue.pk, target_label=queue.name, before=before, after=after,
    )
    return queue


@transaction.atomic
def review_queue_delete(*, queue: ReviewQueue, actor: Actor) -> None:
    audit_record(
        organization=queue.project.organization, actor=actor, action=AuditAction.QUEUE_DELETED,
        target_type="review_queue", target_id=queue.pk, target_label=queue.name, before=_queue_state(queue),
    )
    ReviewQueue.objects.for_project(queue.project_id).filter(pk=queue.pk).delete()


@transaction.atomic
def review_queue_assign(*, queue: ReviewQueue, membership, actor: Actor) -> None:
    object_permission_grant(membership=membership, permission=WORK_PERMISSION, obj=queue)
    audit_record(
        organization=queue.project.organization, actor=actor, action=AuditAction.QUEUE_ASSIGNED,
        target_type="review_queue", target_id=queue.pk, target_label=queue.name, after={"user": membership.user.email},
    )


@transaction.atomic
def review_queue_unassign(*, queue: ReviewQueue, membership, actor: Actor) -> None:
    object_permission_revoke(membership=membership, permission=WORK_PERMISSION, obj=queue)
    audit_record(
        organization=queue.project.organization, actor=actor, action=AuditAction.QUEUE_UNASSIGNED,
        target_type="review_queue", target_id=queue.pk, target_label=queue.name, before={"user": membership.user.email},
    )


def _clean_taxonomy(categories) -> list[dict]:
    if not isinstance(categories, list) or not 1 <= len(categories) <= MAX_CATEGORIES:
        raise ValidationFailed(f"The taxonomy has between 1 and {MAX_CATEGORIES} categories.", field="categories")
    cleaned, seen = [], set()
    for entry in categories:
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ValidationFailed("Each category is {name, description}.", field="categories")
        name = " ".join(entry["name"].split())
        description = entry.get("description") or ""
        if not 0 < len(name) <= 64:
            raise ValidationFailed("A category name has 1 to 64 characters.", field="categories")
        required_name(name, field="categories", max_length=64)
        if not isinstance(description, str) or len(description) > 300:
            raise ValidationFailed("A category description has at most 300 characters.", field="categories")
        if name.casefold() in seen:
            raise ValidationFailed(f"The category “{name}” appears twice.", code="duplicate_category", field="categories")
        seen.add(name.casefold())
        cleaned.append({"name": name, "description": description.strip()})
    return cleaned


@transaction.atomic
def taxonomy_update(*, project, actor: Actor, categories: list) -> list[dict]:
    """Replace the project's failure categories (order kept). Past decisions keep their text."""
    cleaned = _clean_taxonomy(categories)
    FailureTaxonomy.objects.for_project(project).bulk_create(
        [FailureTaxonomy(project=project, categories=[])], ignore_conflicts=True
    )
    row = FailureTaxonomy.objects.for_project(project).select_for_update().get()
    before = row.categories or DEFAULT_TAXONOMY
    if cleaned == before:
        return cleaned  # nothing changed: no audit row
    row.categories = cleaned
    row.save(update_fields=["categories", "updated_at"])
    audit_record(
        organization=project.organization, actor=actor, action=AuditAction.TAXONOMY_CHANGED,
        target_type="taxonomy", target_id=project.pk, target_label=project.name,
        before={"categories": before}, after={"categories": cleaned},
    )
    return cleaned
