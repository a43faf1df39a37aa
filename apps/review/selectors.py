"""Reads of review queues. Every query starts from a project (fail-closed managers)."""

from __future__ import annotations

import copy
import datetime as dt
import statistics

from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404
from django.utils import timezone

from apps.core.permissions import object_permission_has, object_permission_user_ids
from apps.core.roles import Role, role_at_least
from apps.core.sql import tenant_sql
from apps.organizations.selectors import membership_list
from apps.review.agreement import agreement_summary
from apps.review.models import (
    DEFAULT_TAXONOMY, OPEN_STATES, WORK_PERMISSION, Decision, FailureTaxonomy, ItemState, ReviewItem, ReviewQueue,
    ReviewQueueUserObjectPermission,
)
from apps.traces.models import Signal, SignalSource, Turn


def _is_admin(membership) -> bool:
    return role_at_least(membership.role, Role.ADMIN)


def taxonomy_get(*, project) -> list[dict]:
    """The project's failure categories ``[{"name", "description"}]``; the defaults until edited."""
    stored = FailureTaxonomy.objects.for_project(project).values_list("categories", flat=True).first()
    return stored or copy.deepcopy(DEFAULT_TAXONOMY)


def review_queue_list(*, project):
    return ReviewQueue.objects.for_project(project).order_by("name", "id")


def review_queue_filter_visible(*, queryset, project, membership):
    """Narrow a project's queues to those ``membership`` may see: all for admins, else the assigned ones."""
    if _is_admin(membership):
        return queryset
    granted = ReviewQueueUserObjectPermission.objects.filter(
        user_id=membership.user_id, permission__codename="work_reviewqueue", content_object__project=project
    ).values("content_object_id")
    return queryset.filter(pk__in=granted)


def review_queue_list_visible(*, project, membership) -> list[ReviewQueue]:
    """Admins see every queue; anyone else only the queues they hold the work permission on."""
    return list(review_queue_filter_visible(queryset=review_queue_list(project=project), project=project, membership=membership))


def review_queue_assignees(*, queue) -> list:
    """Memberships holding the work permission on ``queue`` (any role), by email."""
    granted = object_permission_user_ids(permission=WORK_PERMISSION, obj=queue)
    return [m for m in membership_list(organization=queue.project.organization) if m.user_id in granted]


def review_queue_reviewers(*, queue) -> list:
    """Memberships (role reviewer or above) holding the work permission on ``queue``: who may be assigned items."""
    granted = object_permission_user_ids(permission=WORK_PERMISSION, obj=queue)
    return [
        m for m in membership_list(organization=queue.project.organization)
        if m.user_id in granted and role_at_least(m.role, Role.REVIEWER)
    ]


def review_queue_get(*, project, queue_id) -> ReviewQueue:
    queue = ReviewQueue.objects.for_project(project).filter(pk=queue_id).first()
    if queue is None:
        raise Http404("No such queue.")
    return queue


def review_queue_get_visible(*, project, membership, queue_id) -> ReviewQueue:
    """404 for a queue of another project, a missing one, or one the member is not assigned to."""
    queue = review_queue_get(project=project, queue_id=queue_id)
    if _is_admin(membership) or object_permission_has(user=membership.user, permission=WORK_PERMISSION, obj=queue):
        return queue
    raise Http404("No such queue.")


def review_item_current(*, queue, reviewer) -> ReviewItem | None:
    """The item this reviewer holds an unexpired lease on, if any."""
    return (
        ReviewItem.objects.for_project(queue.project_id)
        .filter(queue=queue, state=ItemState.CLAIMED, claimed_by=reviewer, lease_expires_at__gt=timezone.now())
        .order_by("claimed_at")
        .first()
    )


def review_item_get(*, queue, item_id) -> ReviewItem:
    item = ReviewItem.objects.for_project(queue.project_id).filter(queue=queue, pk=item_id).first()
    if item is None:
        raise Http404("No such item.")
    return item


def review_decision_list(*, item) -> list[Decision]:
    return list(
        Decision.objects.for_project(item.project_id).filter(item=item).select_related("reviewer").order_by("created_at")
    )


def review_decisions_visible(*, queue, item) -> bool:
    """Blind queues hide earlier verdicts on an item until its outcome is final (from everyone, admins
    included: an admin deciding it is a reviewer too)."""
    return not queue.blind or item.state not in OPEN_STATES


def review_item_list(*, queue, states=None):
    """Items of one queue, most urgent first (priority, then age); ``states`` narrows them."""
    items = (
        ReviewItem.objects.for_project(queue.project_id).filter(queue=queue)
        .select_related("assigned_to", "claimed_by").order_by("-priority", "created_at", "id")
    )
    return items.filter(state__in=list(states)) if states else items


def review_turn_previews(*, project, turn_ids, length: int = 140) -> dict:
    """``{turn_id: first characters of its input}`` for the turns still stored."""
    rows = Turn.objects.for_project(project).filter(id__in=list(turn_ids)).values_list("id", "input")
    return {turn_id: (text[:length] + "…") if len(text) > length else text for turn_id, text in rows}


def review_queue_agreement(*, project, queues) -> dict[int, dict]:
    """Per queue, over items with two or more decisions: how many, the percentage where every
    reviewer gave the same verdict, and Fleiss' kappa over the verdicts (None when undefined)."""
    ids = [q.pk for q in queues]
    decisions = Decision.objects.for_project(project).filter(queue_id__in=ids)
    multi = decisions.values("item_id").annotate(n=Count("id")).filter(n__gte=2).values("item_id")
    rows = (
        decisions.filter(item_id__in=multi).values("queue_id", "item_id", "verdict").annotate(n=Count("id")).order_by()
    )
    per_queue: dict[int, dict[int, dict[str, int]]] = {queue_id: {} for queue_id in ids}
    for row in rows:
        per_queue[row["queue_id"]].setdefault(row["item_id"], {})[row["verdict"]] = row["n"]
    return {queue_id: agreement_summary(list(items.values())) for queue_id, items in per_queue.items()}


def _today_start(now: dt.datetime) -> dt.datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _median(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 1) if values else None


def review_queue_progress(*, project, queues, now: dt.datetime | None = None) -> dict[int, dict]:
    """Per queue: pending (open and not leased), claimed, done today, median seconds per item today."""
    now = now or timezone.now()
    ids = [q.pk for q in queues]
    open_counts = {
        row["queue_id"]: row
        for row in ReviewItem.objects.for_project(project).filter(queue_id__in=ids).values("queue_id").annotate(
            pending=Count("id", filter=Q(state=ItemState.PENDING) | Q(state=ItemState.CLAIMED, lease_expires_at__lte=now)),
            claimed=Count("id", filter=Q(state=ItemState.CLAIMED, lease_expires_at__gt=now)),
        )
    }
    decisions = (
        Decision.objects.for_project(project).filter(queue_id__in=ids, created_at__gte=_today_start(now))
        .values_list("queue_id", "seconds_spent")
    )
    done: dict[int, list] = {}
    for queue_id, seconds in decisions:
        done.setdefault(queue_id, []).append(seconds)
    return {
        queue_id: {
            "pending": open_counts.get(queue_id, {}).get("pending", 0),
            "claimed": open_counts.get(queue_id, {}).get("claimed", 0),
            "done_today": len(done.get(queue_id, [])),
            "median_seconds": _median(done.get(queue_id, [])),
        }
        for queue_id in ids
    }


def review_reviewer_progress(*, queue, now: dt.datetime | None = None) -> list[dict]:
    """Per reviewer in one queue: decisions today and median seconds per item."""
    now = now or timezone.now()
    rows = (
        Decision.objects.for_project(queue.project_id).filter(queue=queue, created_at__gte=_today_start(now))
        .select_related("reviewer").order_by("reviewer_id")
    )
    per: dict = {}
    for decision in rows:
        email = decision.reviewer.email if decision.reviewer else "(removed)"
        per.setdefault(email, []).append(decision.seconds_spent)
    return [
        {"reviewer": email, "done_today": len(values), "median_seconds": _median(values)}
        for email, values in sorted(per.items())
    ]


# --- Reads for the floors above (problems) ------------------------------------------------------


def review_decision_rows_after(*, project, watermark: int, limit: int) -> list[tuple]:
    """(decision id, its item's turn id, created_at) of the project's decisions past ``watermark``,
    by id, at most ``limit`` (the clustering job's watermark read: one statement)."""
    with tenant_sql(project=project) as cursor:
        cursor.execute(
            """
            SELECT d.id, i.turn_id, d.created_at FROM review_decision d JOIN review_reviewitem i ON i.id = d.item_id
            WHERE d.project_id = %(project_id)s AND d.id > %(watermark)s ORDER BY d.id LIMIT %(limit)s
            """,
            {"watermark": watermark, "limit": limit},
        )
        return cursor.fetchall()


def review_final_verdicts(*, project, turn_ids: list) -> dict:
    """turn id → (verdict, category) of the latest decision that is its item's final outcome.

    Final outcomes only: with N reviewers per item a single vote is not the verdict.
    """
    with tenant_sql(project=project) as cursor:
        cursor.execute(
            """
            SELECT DISTINCT ON (i.turn_id) i.turn_id, d.verdict, d.category
            FROM review_decision d JOIN review_reviewitem i ON i.id = d.item_id
            WHERE d.project_id = %(project_id)s AND i.project_id = %(project_id)s AND i.turn_id = ANY(%(ids)s::uuid[])
              -- final outcomes only: with N reviewers per item a single vote is not the verdict
              AND i.state IN ('confirmed', 'rejected')
              AND d.verdict = CASE i.state WHEN 'confirmed' THEN 'confirm' ELSE 'reject' END
            ORDER BY i.turn_id, d.created_at DESC, d.id DESC
            """,
            {"ids": turn_ids},
        )
        return {turn_id: (verdict, category) for turn_id, verdict, category in cursor.fetchall()}


def review_confirmed_turn_count(*, project, turn_ids) -> int:
    """How many of ``turn_ids`` (a list or a scoped queryset of ids) reviewers confirmed as failures."""
    return (
        ReviewItem.objects.for_project(project).filter(turn_id__in=turn_ids, state=ItemState.CONFIRMED)
        .values("turn_id").distinct().count()
    )


def detector_precision(*, project) -> dict[tuple[str, str], dict]:
    """Per flagging detector — ``(source, name)``: ``("detector", <detector>)`` by the signal's
    dedupe key, ``("llm_judge", <kind>)`` — the precision reviewers have confirmed so far:
    confirmed ÷ decided among its flagged turns. A turn counts as confirmed when any of its items
    was confirmed, as decided when any was confirmed or rejected (escalated or skipped items are
    not decisions yet). One grouped query; registered as the ``review.detector_precision`` hook
    for the Detectors tab (apps.detection sits below review)."""
    items = ReviewItem.objects.for_project(project).filter(turn_id=OuterRef("turn_id"))
    rows = (
        Signal.objects.for_project(project).filter(source__in=[SignalSource.DETECTOR, SignalSource.LLM_JUDGE])
        .annotate(
            confirmed=Exists(items.filter(state=ItemState.CONFIRMED)),
            decided=Exists(items.filter(state__in=[ItemState.CONFIRMED, ItemState.REJECTED])),
        )
        .values("source", "kind", "dedupe_key")
        .annotate(
            confirmed_n=Count("turn_id", filter=Q(confirmed=True), distinct=True),
            decided_n=Count("turn_id", filter=Q(decided=True), distinct=True),
        )
        .order_by()
    )
    precision: dict[tuple[str, str], dict] = {}
    for row in rows:
        name = row["kind"] if row["source"] == SignalSource.LLM_JUDGE else row["dedupe_key"]
        cell = precision.setdefault((row["source"], name), {"confirmed": 0, "decided": 0})
        cell["confirmed"] += row["confirmed_n"]
        cell["decided"] += row["decided_n"]
    for cell in precision.values():
        cell["precision"] = cell["confirmed"] / cell["decided"] if cell["decided"] else None
    return precision
