"""Reads of review queues. Every query starts from a project (fail-closed managers)."""

from __future__ import annotations

import datetime as dt
import statistics

from django.db.models import Count, Q
from django.http import Http404
from django.utils import timezone

from apps.core.permissions import object_permission_has
from apps.core.roles import Role, role_at_least
from apps.review.models import (
    WORK_PERMISSION, Decision, ItemState, ReviewItem, ReviewQueue, ReviewQueueUserObjectPermission,
)


def _is_admin(membership) -> bool:
    return role_at_least(membership.role, Role.ADMIN)


def review_queue_list(*, project):
    return ReviewQueue.objects.for_project(project).order_by("name", "id")


def review_queue_list_visible(*, project, membership) -> list[ReviewQueue]:
    """Admins see every queue; anyone else only the queues they hold the work permission on."""
    queues = review_queue_list(project=project)
    if _is_admin(membership):
        return list(queues)
    granted = ReviewQueueUserObjectPermission.objects.filter(
        user_id=membership.user_id, permission__codename="work_reviewqueue", content_object__project=project
    ).values("content_object_id")
    return list(queues.filter(pk__in=granted))


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
    return list(Decision.objects.for_project(item.project_id).filter(item=item).order_by("created_at"))


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
