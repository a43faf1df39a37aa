"""Deleting everything held about one end user, and recording exports and deletions.

Deletion runs per project in bounded batches of ``BATCH`` of the user's turns, one transaction
each: the turns' review items (their decisions cascade), problem memberships and copied dataset
cases (erased, apps.datasets.services.erasure) go first, then ``purge_turns`` deletes the turns
with their steps, signals, feedback and detection passes and leaves tombstones without personal
data. Then the rows that carry the user's id without one of their turns (feedback on another
user's turn or waiting for its turn, memberships and cases whose turn already went). A crash
leaves whole batches done or undone; running it again finishes the rest and a finished deletion
finds nothing (idempotent). Problems that lost members get their counters recomputed, and a
problem whose representative input was one of the deleted turns' questions loses it.

Who may delete: an admin (session or organization token with the admin scope), or the project's
API key (the issue pins it: the agent's backend answers its users' deletion requests). Keys are
per project, so a key never reaches another project's users.

The audit row (one per project with something deleted, and one per export) records the actor,
the time and the counts per kind, never content: the end-user id itself is replaced by a keyed
hash (``selectors.end_user_digest``), so the append-only log does not keep the identifier the
deletion was asked to remove, while an admin who knows it still finds its history.
"""

from __future__ import annotations

from collections import Counter

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.audit import Actor, AuditAction, audit_record
from apps.datasets.services.changes import Author
from apps.datasets.services.erasure import cases_erase
from apps.governance.end_users import selectors
from apps.governance.purge import purge_turns
from apps.problems.models import Problem, ProblemTurn
from apps.problems.services.stats import problem_stats_refresh
from apps.review.models import ReviewItem
from apps.traces.models import DeletionReason, Feedback, Turn

BATCH = 1000
# A batch whose turns are all locked by a concurrent writer deletes nothing; after this many such
# batches in a row the deletion stops there (the audit row shows what was done; run it again).
MAX_IDLE_BATCHES = 20
AUTHOR = Author(user=None, label="End-user deletion")


def _problems_forget(project, memberships, inputs) -> set[int]:
    problem_ids = set(memberships.values_list("problem_id", flat=True))
    if problem_ids and inputs:
        Problem.objects.for_project(project).filter(pk__in=problem_ids, representative_input__in=inputs).update(
            representative_input=""
        )
    return problem_ids


def _delete_lineage(project, turn_ids, inputs) -> tuple[Counter, set[int]]:
    """Review items and decisions, memberships and copied cases of ``turn_ids``."""
    counts = Counter()
    _, deleted = ReviewItem.objects.for_project(project).filter(turn_id__in_array=turn_ids).delete()
    counts["review_items"] = deleted.get("review.ReviewItem", 0)
    counts["decisions"] = deleted.get("review.Decision", 0)
    memberships = ProblemTurn.objects.for_project(project).filter(turn_id__in_array=turn_ids)
    problem_ids = _problems_forget(project, memberships, inputs)
    counts["problem_memberships"] = memberships.delete()[0]
    counts.update(cases_erase(project=project, match=Q(turn_id__in_array=turn_ids), author=AUTHOR))
    return counts, problem_ids


def _delete_project(project, end_user_id: str) -> Counter:
    counts, problem_ids, idle = Counter(), set(), 0
    while idle < MAX_IDLE_BATCHES:
        with transaction.atomic():
            rows = list(selectors.user_turns(project, end_user_id).order_by("created_at", "id").values_list("id", "input")[:BATCH])
            if not rows:
                break
            ids = [turn_id for turn_id, _ in rows]
            lineage, touched = _delete_lineage(project, ids, [text for _, text in rows if text])
            purged = purge_turns(
                project=project, turns=Turn.objects.for_project(project).filter(id__in_array=ids), reason=DeletionReason.END_USER
            )
            if not purged:
                transaction.set_rollback(True)  # every turn locked: try again rather than half-delete lineage
                idle += 1
                continue
            idle = 0
            counts.update(lineage)
            counts.update(purged)
            problem_ids |= touched
    with transaction.atomic():
        while True:
            keys = list(selectors.own_feedback(project, end_user_id).values_list("id", flat=True)[:BATCH])
            if not keys:
                break
            counts["feedback"] += Feedback.objects.for_project(project).filter(id__in=keys).delete()[0]
        memberships = ProblemTurn.objects.for_project(project).filter(affected_key=end_user_id)
        problem_ids |= _problems_forget(project, memberships, [])
        counts["problem_memberships"] += memberships.delete()[0]
        counts.update(cases_erase(project=project, match=selectors.case_match(project, end_user_id), author=AUTHOR))
        if problem_ids:
            problem_stats_refresh(project=project, now=timezone.now(), problem_ids=problem_ids)
    return +counts


def end_user_delete(*, organization, projects, end_user_id: str, actor: Actor) -> dict:
    """Delete every row held about ``end_user_id`` in ``projects`` (404 ``not_found``
    when nothing is held). Returns ``{"deleted": {kind: n}, "projects": [{"id", "deleted"}]}``."""
    held = selectors.end_user_counts_or_404(projects=projects, end_user_id=end_user_id)
    digest = selectors.end_user_digest(organization=organization, end_user_id=end_user_id)
    totals, per_project = Counter(), []
    for project, counts in held.items():
        if not any(counts.values()):
            continue
        deleted = _delete_project(project, end_user_id)
        audit_record(
            organization=organization, actor=actor, action=AuditAction.END_USER_DELETED, target_type="end_user",
            target_id=digest, target_label=f"in {project.name}",
            after={"project": str(project.pk), "deleted": dict(sorted(deleted.items()))},
        )
        totals.update(deleted)
        per_project.append({"id": str(project.pk), "name": project.name, "deleted": dict(sorted(deleted.items()))})
    return {"deleted": dict(sorted(totals.items())), "projects": per_project}


def end_user_export_record(*, organization, projects, end_user_id: str, actor: Actor) -> None:
    """Audit an export (before it streams: the counts are in the document itself)."""
    audit_record(
        organization=organization, actor=actor, action=AuditAction.END_USER_EXPORTED, target_type="end_user",
        target_id=selectors.end_user_digest(organization=organization, end_user_id=end_user_id),
        target_label=f"{len(projects)} project{'s' if len(projects) != 1 else ''}",
        after={"projects": [str(project.pk) for project in projects]},
    )
