"""Writes of review items: routing turns into queues, claiming, assigning and deciding.

Race safety comes from the database: the unique ``(project, queue, turn_id)`` makes routing
idempotent (``INSERT … ON CONFLICT DO NOTHING``), and claiming is one ``UPDATE`` over a
``SELECT … FOR UPDATE SKIP LOCKED`` row so two reviewers can never hold the same item.

N reviewers per item (``ReviewQueue.reviewers_per_item``): each decision is one vote; until N
distinct reviewers have voted the item goes back to pending, and the claim never hands it to a
reviewer already in ``decided_by``. After N votes the item takes the majority verdict; a tie
(no verdict with more votes than every other) escalates to the second-level queue if there is
one, else the item becomes ``disputed`` for an admin, who reopens it by assigning it to a
reviewer as the tie-breaker (their vote is counted with the others).
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter

from django.db import connection, transaction
from django.utils import timezone

from apps.core import hooks
from apps.core.errors import Conflict, ValidationFailed
from apps.core.permissions import object_permission_has
from apps.core.roles import Role, role_at_least
from apps.core.sql import tenant_sql
from apps.core.audit import Actor, AuditAction, audit_record
from apps.review.models import (
    OPEN_STATES, VERDICT_STATE, WORK_PERMISSION, Decision, ItemState, ReviewItem, ReviewQueue, Verdict,
)
from apps.review.selectors import taxonomy_get
from apps.traces.models import ReviewState, Signal, Turn

# ``(*, decision) -> None``, called inside the decision's transaction when an item's outcome
# becomes confirmed: apps.datasets (a floor above) applies the queue's auto-add rule (idempotent).
DECISION_FINAL_HOOK = "datasets.decision_final"


def _sampled(turn_id, queue_id: int, percent: int) -> bool:
    """Deterministic per (turn, queue): routing the same turn twice makes the same choice."""
    if percent >= 100:
        return True
    digest = hashlib.blake2b(f"{turn_id}:{queue_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % 100 < percent


@transaction.atomic
def review_route_turns(*, project, turn_ids) -> int:
    """Put the turns whose signals match a queue's rules into that queue; returns items created.

    A queue with ``any_turn`` takes every turn, the default queue every turn with no signal at
    all (both sampled like the rest). Idempotent: an item already in a queue (in any state) is
    left alone.
    """
    turn_ids = [uuid.UUID(str(t)) for t in turn_ids]
    queues = [q for q in ReviewQueue.objects.for_project(project) if q.routes]
    if not turn_ids or not queues:
        return 0
    kinds_by_turn: dict = {}
    all_kinds = {kind for q in queues for kind in q.signal_kinds}
    catch_all = any(q.any_turn or q.is_default for q in queues)
    existing_turns = Turn.objects.for_project(project).filter(id__in=turn_ids).values("id")
    signals = Signal.objects.for_project(project).filter(turn_id__in=existing_turns)
    if not catch_all:
        signals = signals.filter(kind__in=all_kinds)
    signals = (
        signals.order_by("created_at", "id")  # first flagged, first routed (item ids break priority ties)
        .values_list("turn_id", "kind")
    )
    for turn_id, kind in signals:
        kinds_by_turn.setdefault(turn_id, set()).add(kind)
    if catch_all:
        for turn_id in existing_turns.values_list("id", flat=True):
            kinds_by_turn.setdefault(turn_id, set())
    pairs = [
        (queue, turn_id)
        for queue in queues
        for turn_id, kinds in kinds_by_turn.items()
        if (kinds & set(queue.signal_kinds) or queue.any_turn or (queue.is_default and not kinds))
        and _sampled(turn_id, queue.pk, queue.sample_percent)
    ]
    if not pairs:
        return 0
    with tenant_sql(project=project) as cursor:
        cursor.execute(
            _ROUTE_SQL,
            {
                "queues": [queue.pk for queue, _ in pairs],
                "turns": [turn_id for _, turn_id in pairs],
                "priorities": [queue.priority for queue, _ in pairs],
            },
        )
        created = cursor.rowcount
    Turn.objects.for_project(project).filter(
        id__in={turn_id for _, turn_id in pairs}, review_state=ReviewState.UNREVIEWED
    ).update(review_state=ReviewState.QUEUED)
    return created


_ROUTE_SQL = """
INSERT INTO review_reviewitem (project_id, queue_id, turn_id, priority, state, note, decided_by, created_at)
SELECT %(project_id)s, q, t, p, 'pending', '', '{}', now()
FROM unnest(%(queues)s::bigint[], %(turns)s::uuid[], %(priorities)s::int[]) AS x(q, t, p)
ON CONFLICT (project_id, queue_id, turn_id) DO NOTHING
"""


def review_recent_signal_turns(*, project, since, limit: int) -> list:
    """Turn ids with a routable signal since ``since``, newest first, at most ``limit`` (the
    catch-up run; turns without signals reach the catch-all from the detection pass only)."""
    kinds = {kind for q in ReviewQueue.objects.for_project(project) for kind in q.signal_kinds}
    if not kinds:
        return []
    recent = (
        Signal.objects.for_project(project).filter(kind__in=kinds, created_at__gte=since)
        .order_by("-created_at").values_list("turn_id", flat=True)[:limit]
    )
    return list(dict.fromkeys(recent))


# Two statements sent as one simple query: PostgreSQL runs them as one implicit transaction (or
# inside the caller's), so the claim is one round trip and SET LOCAL covers exactly this claim.
# A lease is soft state: if a crash loses the commit the item is simply pending again, so the
# claim need not wait for the WAL flush (the decision, which matters, does).
_CLAIM_SQL = """
SET LOCAL synchronous_commit TO OFF;
WITH held AS (
    SELECT id FROM review_reviewitem
    WHERE project_id = %(project_id)s AND queue_id = %(queue)s AND state = 'claimed'
      AND claimed_by_id = %(reviewer)s AND lease_expires_at > now()
    ORDER BY claimed_at LIMIT 1
), next AS (
    SELECT id FROM review_reviewitem
    WHERE project_id = %(project_id)s AND queue_id = %(queue)s
      AND (state = 'pending' OR (state = 'claimed' AND lease_expires_at <= now()))
      AND (assigned_to_id IS NULL OR assigned_to_id = %(reviewer)s)
      AND %(reviewer)s::bigint <> ALL (decided_by)
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

    Claimable: pending, or claimed with an expired lease; unassigned or assigned to this reviewer;
    not already decided by this reviewer (N reviewers per item). A reviewer who already holds a
    live lease in this queue gets that item back. One statement, one round trip: the held-item
    check, the skip-locked pick and the lease.
    """
    # Django's client-side-binding cursor behind the door: several statements in one execute.
    with tenant_sql(project=queue.project_id) as cursor:
        cursor.execute(_CLAIM_SQL, {"queue": queue.pk, "reviewer": reviewer.pk, "lease": queue.lease_seconds})
        cursor.nextset()  # past the SET to the claim's rows
        row = cursor.fetchone()
        columns = [column.name for column in cursor.description]
    if row is None:
        return None
    # The UPDATE returned the whole row (column names are the attnames): no second read.
    # from_db wants the values in the model's field order, not the table's column order.
    values = dict(zip(columns, row))
    names = [field.attname for field in ReviewItem._meta.concrete_fields]
    return ReviewItem.from_db(connection.alias, names, [values[name] for name in names])


def _check_assignee(queue: ReviewQueue, membership) -> None:
    if membership.organization_id != queue.project.organization_id:
        raise ValidationFailed("That member does not belong to this organization.", code="unknown_member", field="member")
    if not role_at_least(membership.role, Role.REVIEWER) or not object_permission_has(
        user=membership.user, permission=WORK_PERMISSION, obj=queue
    ):
        raise ValidationFailed("Only a reviewer assigned to this queue can take its items.", code="not_a_queue_reviewer", field="member")


@transaction.atomic
def review_item_assign(*, item: ReviewItem, membership, actor: Actor) -> ReviewItem:
    """Reserve an open item for one named reviewer of its queue (``membership=None``: anyone).

    A disputed item (a tie with no second-level queue) is reopened this way: the assignee's vote
    breaks the tie. Someone who already decided the item cannot be assigned it.
    """
    item = (
        ReviewItem.objects.for_project(item.project_id).select_for_update(of=("self",))
        .select_related("queue__project__organization", "assigned_to").get(pk=item.pk)
    )
    if item.state not in (*OPEN_STATES, ItemState.DISPUTED):
        raise Conflict("That item is already decided.", code="item_closed")
    if membership is not None:
        _check_assignee(item.queue, membership)
        if membership.user_id in item.decided_by:
            raise ValidationFailed("That reviewer already decided this item.", code="already_decided", field="member")
    before = {"assigned_to": item.assigned_to.email if item.assigned_to else None, "state": item.state}
    item.assigned_to = membership.user if membership is not None else None
    if item.state == ItemState.DISPUTED:
        item.state = ItemState.PENDING
    after = {"assigned_to": membership.user.email if membership is not None else None, "state": item.state}
    if after == before:
        return item  # nothing changed: no audit row
    item.save(update_fields=["assigned_to", "state"])
    audit_record(
        organization=item.queue.project.organization, actor=actor, action=AuditAction.REVIEW_ASSIGNED,
        target_type="review_item", target_id=item.pk, target_label=f"{item.queue.name}: turn {item.turn_id}",
        before=before, after=after,
    )
    return item


def _majority(votes: list[str]) -> str | None:
    """The verdict with more votes than every other one; None on a tie."""
    counts = Counter(votes).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return None
    return counts[0][0]


def _tally(votes: list[str]) -> str:
    return ", ".join(f"{verdict} {count}" for verdict, count in sorted(Counter(votes).items()))


@transaction.atomic
def review_item_decide(
    *, item: ReviewItem, reviewer, verdict: str, category: str = "", correction: str = "", notes: str = "",
    ip_address: str | None = None, via: str = "",
) -> Decision:
    """Record a reviewer's verdict on an item they hold; the item's outcome is final after the
    queue's N distinct reviewers (see the module docstring), and only a final confirm or reject
    marks the turn reviewed. Escalation moves it to the second-level queue."""
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
    if reviewer.pk in item.decided_by:  # the claim never hands it out again; a held one from before a reset might
        raise Conflict("You already decided this item.", code="already_decided")
    if category and category not in {c["name"] for c in taxonomy_get(project=item.project)}:
        raise ValidationFailed("Not a category of this project's failure taxonomy.", code="unknown_category", field="category")
    if verdict == Verdict.CONFIRM and not category:
        raise ValidationFailed("A confirmed failure needs a category.", code="category_required", field="category")
    if verdict == Verdict.ESCALATE and queue.escalate_to_id is None:
        raise ValidationFailed("This queue has no second-level queue to escalate to.", code="no_second_level", field="verdict")
    now = timezone.now()
    decision = Decision.objects.create(
        project_id=item.project_id, item=item, queue=queue, reviewer=reviewer, verdict=verdict,
        category=category, correction=correction, notes=notes,
        seconds_spent=round((now - item.claimed_at).total_seconds(), 3) if item.claimed_at else None,
        created_at=now,
    )
    item.decided_by = [*item.decided_by, reviewer.pk]
    if len(item.decided_by) == 1:
        votes = [verdict]
    else:
        votes = list(Decision.objects.for_project(item.project_id).filter(item=item).values_list("verdict", flat=True))
    outcome, note = _outcome(queue, votes, notes, item)
    item.lease_expires_at = None
    if outcome is None:  # more reviewers to go: back to the queue for someone else
        item.state, item.claimed_by, item.claimed_at = ItemState.PENDING, None, None
        if item.assigned_to_id == reviewer.pk:
            item.assigned_to = None
    else:
        item.state = outcome
    item.save(update_fields=["state", "lease_expires_at", "decided_by", "claimed_by", "claimed_at", "assigned_to"])
    if outcome == ItemState.ESCALATED:
        ReviewItem.objects.bulk_create(
            [ReviewItem(
                project_id=item.project_id, queue_id=queue.escalate_to_id, turn_id=item.turn_id,
                priority=item.priority, note=note, created_at=now,
            )],
            ignore_conflicts=True,
        )
    elif outcome in (ItemState.CONFIRMED, ItemState.REJECTED):
        Turn.objects.for_project(item.project_id).filter(id=item.turn_id).update(review_state=ReviewState.REVIEWED)
        if outcome == ItemState.CONFIRMED:
            hooks.call(DECISION_FINAL_HOOK, decision=decision)
    after = {"verdict": verdict, "category": category, "turn_id": str(item.turn_id), "queue": queue.pk}
    if queue.reviewers_per_item > 1:
        after.update(vote=len(votes), outcome=outcome)
    audit_record(
        organization=item.project.organization, actor=Actor(user=reviewer, ip_address=ip_address, via=via),
        action=AuditAction.REVIEW_DECIDED, target_type="review_item", target_id=item.pk,
        target_label=f"{queue.name}: turn {item.turn_id}", after=after,
    )
    return decision


def _outcome(queue: ReviewQueue, votes: list[str], notes: str, item: ReviewItem) -> tuple[str | None, str]:
    """The item's final state (None: not final yet) and the note an escalated copy carries."""
    if len(votes) < queue.reviewers_per_item:
        return None, ""
    if len(votes) == 1:
        return VERDICT_STATE[Verdict(votes[0])], notes or f"Escalated from {queue.name}"
    majority = _majority(votes)
    if majority is None:
        if queue.escalate_to_id is None:
            return ItemState.DISPUTED, ""
        return ItemState.ESCALATED, f"Reviewers disagreed in {queue.name} ({_tally(votes)})."
    if majority == Verdict.ESCALATE:
        escalation_notes = list(
            Decision.objects.for_project(item.project_id).filter(item=item, verdict=Verdict.ESCALATE)
            .exclude(notes="").order_by("created_at").values_list("notes", flat=True)
        )
        return ItemState.ESCALATED, "\n".join(escalation_notes) or f"Escalated from {queue.name}"
    return VERDICT_STATE[Verdict(majority)], ""
