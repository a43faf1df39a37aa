"""Retention and TTL expiry: which turns are due, which are held, and the job that deletes them.

Where "when does this turn expire" is stored: nowhere per row. A turn is due when
``created_at`` (when it happened: the SDK's ``timestamp``, else receipt) is older than its
project's retention, so the job asks ``created_at < now - retention`` of the index that already
exists on ``(project, -created_at, -id)`` (``traces_turn_created_idx``): a range scan from the
oldest end of one project, no table scan and no extra index on the ingestion hot path. A stored
``expires_at`` would have to be rewritten on every turn of a project each time an admin changes
its retention (millions of row versions, every index touched); the cutoff is one number. A
backfilled turn older than its retention is stored like any other and is simply due on the next
run. ``Turn.expires_at`` stays unused for turns (children waiting for their turn use theirs).

Rejected turns have a second, shorter clock: ``RejectedRetention.days`` after the reject
decision. That pass is driven from the review items (rejected, decided before the cutoff),
which are few next to the turns, and joins the turns by primary key.

Holds are evaluated in the same statement that locks the batch (``NOT EXISTS`` over the
project's open or confirmed review items and its unresolved problems' memberships, both
index probes on ``(project, turn_id)``), so a turn that became held after a preview or an
earlier batch is not deleted. Held turns older than the cutoff are passed over by every batch;
they are the few a team is working on. Dataset cases copy their content and do not hold.

Each batch is one transaction of ``apps.governance.purge.purge_turns`` plus the day's counts
(``ExpiryDay``): a killed run leaves whole batches done and none half-done, and the next run
takes up where it stopped (what was deleted is not found again). Rows locked by a writer are
skipped, not waited for, so ingestion into the same project is never blocked by expiry.
The preview and the job use the same cutoffs and the same holds (``due_turns``, ``_held`` and
``_held_ids`` read one pair of hold querysets), so what a preview counts is what the job deletes;
the preview counts from the holds' side (all turns past the cutoff, an index-only count, minus
the held few) rather than probing every old turn.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from apps.core.sql import tenant_sql
from apps.governance.models import REJECTED_DAYS_DEFAULT, ExpiryDay, ProjectRetention, RejectedRetention
from apps.governance.purge import purge_batch
from apps.problems.models import UNRESOLVED_STATUSES, ProblemTurn
from apps.review.models import Decision, ItemState, ReviewItem, Verdict
from apps.traces.models import DeletionReason, Turn

BATCH_SIZE = 4000

# Review states that hold a turn: still to be decided, or confirmed as a real failure.
HOLDING_ITEM_STATES = (ItemState.PENDING, ItemState.CLAIMED, ItemState.DISPUTED, ItemState.CONFIRMED)


@dataclass(frozen=True)
class Retention:
    """The retention a project's turns follow (days), the rejected-turn clock, and where the
    first one comes from ("project" override or "organization" default)."""

    days: int
    rejected_days: int
    source: str


def retention_for(*, project, days: int | None = None, rejected_days: int | None = None) -> Retention:
    """The project's effective retention; ``days``/``rejected_days`` stand in for a change being previewed."""
    if days is not None:
        source = "proposed"
    else:
        override = ProjectRetention.objects.for_project(project).values_list("days", flat=True).first()
        days, source = (override, "project") if override else (project.organization.retention_days, "organization")
    if rejected_days is None:
        rejected_days = rejected_days_for(organization=project.organization)
    return Retention(days=days, rejected_days=rejected_days, source=source)


def rejected_days_for(*, organization) -> int:
    days = RejectedRetention.objects.for_org(organization).values_list("days", flat=True).first()
    return days or REJECTED_DAYS_DEFAULT


def _holding_items(project):
    return ReviewItem.objects.for_project(project).filter(state__in=HOLDING_ITEM_STATES)


def _holding_members(project):
    return ProblemTurn.objects.for_project(project).filter(problem__status__in=UNRESOLVED_STATUSES)


def _held(project) -> Q:
    """The turn is held: an open or confirmed review item, or a member of an unresolved problem
    (per turn, for the statement that locks a batch)."""
    return (Q(Exists(_holding_items(project).filter(turn_id=OuterRef("id"))))
            | Q(Exists(_holding_members(project).filter(turn_id=OuterRef("id")))))


def _held_ids(project):
    """The same holds from their side: the ids of every held turn (few), for counting."""
    return _holding_items(project).values("turn_id").union(_holding_members(project).values("turn_id"))


def _rejected_before(project, cutoff):
    """Turn ids with a reject decision older than ``cutoff`` on an item still rejected (a later
    re-decision wins): the pass starts from these few items, not from the turns."""
    return ReviewItem.objects.for_project(project).filter(
        state=ItemState.REJECTED, decisions__verdict=Verdict.REJECT, decisions__created_at__lt=cutoff,
    ).values("turn_id")


def due_turns(*, project, retention: Retention, now=None) -> dict[str, object]:
    """The not-held turns due now, as two querysets: past the retention, and rejected past the
    rejected clock (younger than the retention, so no turn is in both)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=retention.days)
    rejected_cutoff = now - dt.timedelta(days=retention.rejected_days)
    turns = Turn.objects.for_project(project)
    return {
        "retention": turns.filter(created_at__lt=cutoff).exclude(_held(project)),
        "rejected": turns.filter(id__in=_rejected_before(project, rejected_cutoff), created_at__gte=cutoff).exclude(_held(project)),
    }


def held_turns(*, project, retention: Retention, now=None):
    """Turns past the retention that stay because they are held (looked up from the holds)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=retention.days)
    return Turn.objects.for_project(project).filter(created_at__lt=cutoff, id__in=_held_ids(project))


@dataclass(frozen=True)
class Preview:
    project: object
    retention: Retention
    deletes: int
    rejected: int
    held: int

    @property
    def total(self) -> int:
        return self.deletes + self.rejected


def expiry_preview(*, project, days: int | None = None, rejected_days: int | None = None, now=None) -> Preview:
    """What the next run would delete under the current (or a proposed) retention, and what stays held."""
    now = now or timezone.now()
    retention = retention_for(project=project, days=days, rejected_days=rejected_days)
    due = due_turns(project=project, retention=retention, now=now)
    cutoff = now - dt.timedelta(days=retention.days)
    past = Turn.objects.for_project(project).filter(created_at__lt=cutoff).count()  # an index-only range count
    held = held_turns(project=project, retention=retention, now=now).count()
    # Past the retention and not held is exactly what the job's "retention" pass deletes; counted
    # as all past it minus the held few, not by probing the holds for each of millions of turns.
    return Preview(project=project, retention=retention, deletes=past - held, rejected=due["rejected"].count(), held=held)


_DAY_UPSERT = f"""
    INSERT INTO governance_expiryday (project_id, day, {", ".join(ExpiryDay.KINDS)})
    VALUES (%(project_id)s, %(day)s, {", ".join(f"%({kind})s" for kind in ExpiryDay.KINDS)})
    ON CONFLICT (project_id, day) DO UPDATE SET
        {", ".join(f"{kind} = governance_expiryday.{kind} + EXCLUDED.{kind}" for kind in ExpiryDay.KINDS)}
"""


def _record_day(*, project, day: dt.date, counts: Counter) -> None:
    with tenant_sql(project=project) as cursor:
        cursor.execute(_DAY_UPSERT, {"day": day, **{kind: counts.get(kind, 0) for kind in ExpiryDay.KINDS}})


def project_expire(*, project, batch_size: int = BATCH_SIZE, now=None, progress=None) -> Counter:
    """Delete every due, not-held turn of ``project`` in batches of ``batch_size``; returns counts.

    Each pass walks its turns oldest first and each batch starts where the previous one ended
    (``created_at >=`` the newest turn it deleted), so held turns and the dead rows of deleted
    ones are passed over once per run, not once per batch. Safe to run twice and concurrently
    with itself (locked rows are skipped, deleted ones are not found again); a new run starts
    from the oldest turn again. ``progress(counts)`` is called after each committed batch.
    """
    now = now or timezone.now()
    retention = retention_for(project=project)
    total = Counter()
    for queryset in due_turns(project=project, retention=retention, now=now).values():
        queryset = queryset.order_by("created_at")
        resume = None
        while True:
            batch = queryset if resume is None else queryset.filter(created_at__gte=resume)
            with transaction.atomic():
                purged = purge_batch(project=project, turns=batch[:batch_size], reason=DeletionReason.RETENTION, now=now)
                if purged.counts:
                    _record_day(project=project, day=timezone.localdate(now), counts=purged.counts)
            total.update(purged.counts)
            if progress and purged.counts:
                progress(purged.counts)
            if purged.counts.get("turns", 0) < batch_size:
                break
            resume = purged.last_created_at
    return +total


# --- what pages show --------------------------------------------------------------------------------


def turn_retention_status(*, project, turn) -> dict:
    """What the turn page says about the turn's future: its holds, or when it expires."""
    holds = []
    items = (
        ReviewItem.objects.for_project(project).filter(turn_id=turn.id, state__in=HOLDING_ITEM_STATES)
        .select_related("queue").order_by("created_at")
    )
    for item in items:
        if item.state == ItemState.CONFIRMED:
            holds.append({"kind": "confirmed", "label": "confirmed by a reviewer", "queue": item.queue})
        else:
            holds.append({"kind": "queue", "label": f"in queue {item.queue.name}", "queue": item.queue})
    membership = (
        ProblemTurn.objects.for_project(project).filter(turn_id=turn.id, problem__status__in=UNRESOLVED_STATUSES)
        .select_related("problem").first()
    )
    if membership:
        holds.append({"kind": "problem", "label": f"problem {membership.problem.title}", "problem": membership.problem})
    if holds:
        return {"held": True, "holds": holds, "expires_on": None}
    retention = retention_for(project=project)
    expires = turn.created_at + dt.timedelta(days=retention.days)
    rejected_at = (
        Decision.objects.for_project(project)
        .filter(item__turn_id=turn.id, item__state=ItemState.REJECTED, verdict=Verdict.REJECT)
        .order_by("created_at").values_list("created_at", flat=True).first()
    )
    if rejected_at:
        expires = min(expires, rejected_at + dt.timedelta(days=retention.rejected_days))
    return {"held": False, "holds": [], "expires_on": expires, "retention": retention}


def expiry_history(*, organization, days: int = 30) -> list[ExpiryDay]:
    """The organization's deletion history, newest day first, with the project loaded."""
    since = timezone.localdate() - dt.timedelta(days=days - 1)
    rows = ExpiryDay.all_tenants.filter(project__organization=organization, day__gte=since)  # unscoped: one organization's projects, by its FK
    return list(rows.select_related("project").order_by("-day", "project__name"))


def organization_preview(*, organization, retention_days: int | None = None, rejected_days: int | None = None, now=None) -> list[Preview]:
    """The preview for every project of ``organization``, under a proposed organization retention
    (projects with an override keep theirs) and rejected clock; the current ones when not given."""
    from apps.projects.models import Project

    now = now or timezone.now()
    overrides = dict(
        ProjectRetention.all_tenants.filter(project__organization=organization).values_list("project_id", "days")  # unscoped: one organization's projects, by its FK
    )
    previews = []
    for project in Project.objects.for_org(organization).select_related("organization").order_by("name"):
        days = overrides.get(project.pk) or retention_days
        preview = expiry_preview(project=project, days=days, rejected_days=rejected_days, now=now)
        source = "project" if project.pk in overrides else ("proposed" if retention_days else "organization")
        previews.append(Preview(project=project, retention=Retention(preview.retention.days, preview.retention.rejected_days, source),
                                deletes=preview.deletes, rejected=preview.rejected, held=preview.held))
    return previews
