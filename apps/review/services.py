"""Writes of review queues: admin, routing, claiming and deciding.

Race safety comes from the database: the unique ``(project, queue, turn_id)`` makes routing
idempotent (``INSERT … ON CONFLICT DO NOTHING``), and claiming is one ``UPDATE`` over a
``SELECT … FOR UPDATE SKIP LOCKED`` row so two reviewers can never hold the same item.
"""

from __future__ import annotations

import hashlib
import uuid

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.core.errors import Conflict, ValidationFailed
from apps.core.permissions import object_permission_grant, object_permission_revoke
from apps.governance.models import AuditAction
from apps.governance.services import Actor, audit_record
from apps.review.models import (
    VERDICT_STATE, WORK_PERMISSION, Decision, ItemState, ReviewItem, ReviewQueue, Verdict,
)
from apps.traces.models import ReviewState, Signal, Turn

MAX_KINDS = 50


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
    return {"signal_kinds": sorted(set(kinds)), "priority": priority, "sample_percent": sample}


def _queue_state(queue: ReviewQueue) -> dict:
    return {
        "name": queue.name, "description": queue.description, "lease_seconds": queue.lease_seconds,
        "routing": queue.routing, "escalate_to": queue.escalate_to_id, "categories": queue.categories,
    }


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
    routing: dict | None = None, escalate_to: ReviewQueue | None = None, categories: list | None = None,
) -> ReviewQueue:
    _check_escalate_to(project, escalate_to)
    if not 30 <= lease_seconds <= 24 * 3600:
        raise ValidationFailed("The lease is between 30 seconds and a day.", field="lease_seconds")
    queue = ReviewQueue(
        project=project, name=name.strip(), description=description, lease_seconds=lease_seconds,
        routing=_clean_routing(routing), escalate_to=escalate_to, categories=list(categories or []),
    )
    try:
        with transaction.atomic():
            queue.save()
    except IntegrityError:
        raise ValidationFailed("A queue with that name already exists.", field="name") from None
    audit_record(
        organization=project.organization, actor=actor, action=AuditAction.QUEUE_CREATED,
        target_type="review_queue", target_id=queue.pk, target_label=queue.name, after=_queue_state(queue),
    )
    return queue


@transaction.atomic
def review_queue_update(*, queue: ReviewQueue, actor: Actor, **fields) -> ReviewQueue:
    queue = ReviewQueue.objects.for_project(queue.project_id).select_for_update().get(pk=queue.pk)
    before = _queue_state(queue)
    if "routing" in fields:
        fields["routing"] = _clean_routing(fields["routing"])
    if "escalate_to" in fields:
        _check_escalate_to(queue.project, fields["escalate_to"], queue)
    if "lease_seconds" in fields and not 30 <= fields["lease_seconds"] <= 24 * 3600:
        raise ValidationFailed("The lease is between 30 seconds and a day.", field="lease_seconds")
    for name, value in fields.items():
        if name not in {"name", "description", "lease_seconds", "routing", "escalate_to", "categories"}:
            raise ValidationFailed(f"Unknown field {name}.", field=name)
        setattr(queue, name, value)
    try:
        with transaction.atomic():
            queue.save()
    except IntegrityError:
        raise ValidationFailed("A queue with that name already exists.", field="name") from None
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


def _sampled(turn_id, queue_id: int, percent: int) -> bool:
    """Deterministic per (turn, queue): routing the same turn twice makes the same choice."""
    if percent >= 100:
        return True
    digest = hashlib.blake2b(f"{turn_id}:{queue_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % 100 < percent


@transaction.atomic
def review_route_turns(*, project, turn_ids) -> int:
    """Put the turns whose signals match a queue's rules into that queue; returns items created.

    Idempotent: an item already in a queue (in any state) is left alone.
    """
    turn_ids = [uuid.UUID(str(t)) for t in turn_ids]
    queues = [q for q in ReviewQueue.objects.for_project(project) if q.signal_kinds]
    if not turn_ids or not queues:
        return 0
    kinds_by_turn: dict = {}
    all_kinds = {kind for q in queues for kind in q.signal_kinds}
    existing_turns = Turn.objects.for_project(project).filter(pk__in=turn_ids).values("pk")
    signals = (
        Signal.objects.for_project(project)
        .filter(turn_id__in=existing_turns, kind__in=all_kinds)
        .order_by("created_at", "id")  # first flagged, first routed (item ids break priority ties)
        .values_list("turn_id", "kind")
    )
    for turn_id, kind in signals:
        kinds_by_turn.setdefault(turn_id, set()).add(kind)
    pairs = [
        (queue, turn_id)
        for queue in queues
        for turn_id, kinds in kinds_by_turn.items()
        if kinds & set(queue.signal_kinds) and _sampled(turn_id, queue.pk, queue.sample_percent)
    ]
    if not pairs:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            _ROUTE_SQL,
            {
                "project": project.pk,
                "queues": [queue.pk for queue, _ in pairs],
                "turns": [turn_id for _, turn_id in pairs],
                "priorities": [queue.priority for queue, _ in pairs],
            },
        )
        created = cursor.rowcount
    Turn.objects.for_project(project).filter(
        pk__in={turn_id for _, turn_id in pairs}, review_state=ReviewState.UNREVIEWED
    ).update(review_state=ReviewState.QUEUED)
    return created


_ROUTE_SQL = """
INSERT INTO review_reviewitem (project_id, queue_id, turn_id, priority, state, note, created_at)
SELECT %(project)s, q, t, p, 'pending', '', now()
FROM unnest(%(queues)s::bigint[], %(turns)s::uuid[], %(priorities)s::int[]) AS x(q, t, p)
ON CONFLICT (project_id, queue_id, turn_id) DO NOTHING
"""


def review_recent_signal_turns(*, project, since, limit: int) -> list:
    """Turn ids with a routable signal since ``since``, newest first, at most ``limit``."""
    kinds = {kind for q in ReviewQueue.objects.for_project(project) for kind in q.signal_kinds}
    if not kinds:
        return []
    recent = (
        Signal.objects.for_project(project).filter(kind__in=kinds, created_at__gte=since)
        .order_by("-created_at").values_list("turn_id", flat=True)[:limit]
    )
    return list(dict.fromkeys(recent))


_CLAIM_SQL = """
WITH held AS (
    SELECT id FROM review_reviewitem
    WHERE project_id = %(project)s AND queue_id = %(queue)s AND state = 'claimed'
      AND claimed_by_id = %(reviewer)s AND lease_expires_at > now()
    ORDER BY claimed_at LIMIT 1
), next AS (
    SELECT id FROM review_reviewitem
    WHERE project_id = %(project)s AND queue_id = %(queue)s
      AND (state = 'pending' OR (state = 'claimed' AND lease_expires_at <= now()))
      AND (assigned_to_id IS NULL OR assigned_to_id = %(reviewer)s)
      AND NOT EXISTS (SELECT 1 FROM held)
    ORDER BY priority DESC, created_at, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE review_reviewitem AS item
    SET state = 'claimed', claimed_by_id = %(reviewer)s, claimed_at = now(),
        lease_expires_at = now() + make_interval(secs => %(lease)s)
    FROM next WHERE item.id = next.id
    RETURNING item.*
)
SELECT * FROM claimed
UNION ALL
SELECT item.* FROM review_reviewitem AS item JOIN held ON item.id = held.id
"""


def review_item_claim_next(*, queue: ReviewQueue, reviewer) -> ReviewItem | None:
    """Lease the highest-priority, oldest claimable item to ``reviewer`` (None when the queue is empty).

    Claimable: pending, or claimed with an expired lease; unassigned or assigned to this reviewer.
    A reviewer who already holds a live lease in this queue gets that item back. One statement,
    one round trip: the held-item check, the skip-locked pick and the lease.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        # A lease is soft state: if a crash loses this commit the item is simply pending again,
        # so the claim need not wait for the WAL flush (the decision, which matters, does).
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute(
            _CLAIM_SQL,
            {"project": queue.project_id, "queue": queue.pk, "reviewer": reviewer.pk, "lease": queue.lease_seconds},
        )
        row = cursor.fetchone()
        columns = [column.name for column in cursor.description]
    if row is None:
        return None
    # The UPDATE returned the whole row (column names are the attnames): no second read.
    # from_db wants the values in the model's field order, not the table's column order.
    values = dict(zip(columns, row))
    names = [field.attname for field in ReviewItem._meta.concrete_fields]
    return ReviewItem.from_db(connection.alias, names, [values[name] for name in names])


@transaction.atomic
def review_item_assign(*, item: ReviewItem, membership, actor: Actor) -> ReviewItem:
    """Reserve an open item for one named reviewer (None for anyone)."""
    user_id = membership.user_id if membership is not None else None
    if membership is not None and membership.organization_id != item.project.organization_id:
        raise ValidationFailed("That member does not belong to this organization.", field="member")
    updated = ReviewItem.objects.for_project(item.project_id).filter(pk=item.pk, state__in=[ItemState.PENDING, ItemState.CLAIMED]).update(assigned_to_id=user_id)
    if not updated:
        raise Conflict("That item is already decided.")
    item.refresh_from_db()
    return item


@transaction.atomic
def review_item_decide(
    *, item: ReviewItem, reviewer, verdict: str, category: str = "", correction: str = "", notes: str = "",
    ip_address: str | None = None,
) -> Decision:
    """Record a verdict on an item the reviewer holds; escalation moves it to the second-level queue."""
    # Lock the item row only (of=self): the joined queue/project/organization rows stay unlocked
    # so decisions by different reviewers never wait on each other.
    item = (
        ReviewItem.objects.for_project(item.project_id).select_for_update(of=("self",))
        .select_related("queue", "project__organization").get(pk=item.pk)
    )
    queue = item.queue
    if verdict not in Verdict.values:
        raise ValidationFailed("Unknown verdict.", field="verdict")
    if item.state != ItemState.CLAIMED or item.claimed_by_id != reviewer.pk:
        raise Conflict("You do not hold this item (its lease may have passed to someone else).", code="not_claimed")
    if category and category not in queue.category_choices:
        raise ValidationFailed("Not a category of this queue.", field="category")
    if verdict == Verdict.CONFIRM and not category:
        raise ValidationFailed("A confirmed failure needs a category.", field="category")
    if verdict == Verdict.ESCALATE and queue.escalate_to_id is None:
        raise ValidationFailed("This queue has no second-level queue to escalate to.", field="verdict")
    now = timezone.now()
    decision = Decision.objects.create(
        project_id=item.project_id, item=item, queue=queue, reviewer=reviewer, verdict=verdict,
        category=category, correction=correction, notes=notes,
        seconds_spent=round((now - item.claimed_at).total_seconds(), 3) if item.claimed_at else None,
        created_at=now,
    )
    item.state = VERDICT_STATE[Verdict(verdict)]
    item.lease_expires_at = None
    item.save(update_fields=["state", "lease_expires_at"])
    if verdict == Verdict.ESCALATE:
        ReviewItem.objects.bulk_create(
            [ReviewItem(
                project_id=item.project_id, queue_id=queue.escalate_to_id, turn_id=item.turn_id,
                priority=item.priority, note=notes or f"Escalated from {queue.name}", created_at=now,
            )],
            ignore_conflicts=True,
        )
    elif verdict in (Verdict.CONFIRM, Verdict.REJECT):
        Turn.objects.for_project(item.project_id).filter(pk=item.turn_id).update(review_state=ReviewState.REVIEWED)
    audit_record(
        organization=item.project.organization, actor=Actor(user=reviewer, ip_address=ip_address),
        action=AuditAction.REVIEW_DECIDED, target_type="review_item", target_id=item.pk,
        target_label=f"{queue.name}: turn {item.turn_id}",
        after={"verdict": verdict, "category": category, "turn_id": str(item.turn_id), "queue": queue.pk},
    )
    return decision
