"""A reviewer's changes to the backlog: rename, status, cause verdict, merge and split.

Each one locks the problem rows it changes (``select_for_update``, in id order when there are
two), refuses a merged problem, writes one audit row in the same transaction, and queues a
clustering run after commit so counters and causes follow. Memberships a person moved (merge,
split) are pinned: the clustering job never moves them again.
"""

from __future__ import annotations

import uuid

import numpy as np
import scipy.sparse as sp
from django.db import transaction
from django.utils import timezone

from apps.core.errors import Conflict, ValidationFailed
from apps.core.text import required_name
from apps.core.audit import Actor, AuditAction, audit_record
from apps.problems import selectors
from apps.problems.causes import next_from_evidence
from apps.problems.models import SETTABLE_STATUSES, CauseState, Problem, ProblemStatus, ProblemTurn
from apps.problems.services.stats import problem_stats_refresh
from apps.problems.text import centroid_from_json, centroid_to_json, most_representative, title_from, vectorize
from apps.traces.models import Turn


MAX_TITLE = 200
MAX_SPLIT = 1000


def clustering_enqueue(*, project_id) -> None:
    """Queue a clustering run after commit; a broker outage only delays it to the next beat."""

    def send():
        from apps.core.tasks import publish

        publish("problems.cluster_project", {"project_id": str(project_id)})

    transaction.on_commit(send)


def _locked(problem: Problem) -> Problem:
    return Problem.objects.for_project(problem.project_id).select_for_update(of=("self",)).select_related(
        "project__organization"
    ).get(pk=problem.pk)


def _refuse_merged(problem: Problem, field: str | None = None) -> None:
    if problem.is_merged:
        raise Conflict(
            f"Problem #{problem.pk} was merged into #{problem.merged_into_id}; work on that one.",
            code="problem_merged", field=field,
        )


def _audit(problem: Problem, actor: Actor, action, before=None, after=None, target: Problem | None = None) -> None:
    target = target or problem
    audit_record(
        organization=problem.project.organization, actor=actor, action=action, target_type="problem",
        target_id=target.pk, target_label=target.title, before=before, after=after,
    )


def clean_title(title) -> str:
    if not isinstance(title, str):
        raise ValidationFailed("The title is text.", field="title", code="invalid_title")
    title = " ".join(title.split())
    if not title:
        raise ValidationFailed("The title cannot be empty.", field="title", code="invalid_title")
    if len(title) > MAX_TITLE:
        raise ValidationFailed(f"The title is at most {MAX_TITLE} characters.", field="title", code="invalid_title")
    try:
        return required_name(title, field="title", max_length=MAX_TITLE)
    except ValidationFailed as error:
        raise ValidationFailed(error.message, field="title", code="invalid_title") from None


@transaction.atomic
def problem_update(*, problem: Problem, actor: Actor, title: str | None = None, status: str | None = None) -> Problem:
    """Rename (the clustering job then keeps the title) and/or set the status; audited when
    something changed."""
    problem = _locked(problem)
    _refuse_merged(problem)
    changes = {}
    if title is not None:
        title = clean_title(title)
        if title != problem.title:
            changes["title"] = title
    if status is not None:
        if status not in SETTABLE_STATUSES:
            raise ValidationFailed(
                f"Status is one of {', '.join(SETTABLE_STATUSES)}.", field="status", code="invalid_status"
            )
        if status != problem.status:
            changes["status"] = status
    if not changes:
        return problem
    before = {name: getattr(problem, name) for name in changes}
    for name, value in changes.items():
        setattr(problem, name, value)
    if "title" in changes:
        problem.title_locked = True
    problem.updated_at = timezone.now()
    problem.save(update_fields=[*changes, "title_locked", "updated_at"])
    _audit(problem, actor, AuditAction.PROBLEM_UPDATED, before=before, after=changes)
    return problem


VERDICTS = ("confirm", "reject")


@transaction.atomic
def problem_cause_review(*, problem: Problem, actor: Actor, verdict: str) -> Problem:
    """Confirm or reject the proposed cause. A rejected cause is never proposed again for this
    problem; the next-strongest qualifying finding of the stored evidence, if any, is proposed."""
    if verdict not in VERDICTS:
        raise ValidationFailed("The verdict is 'confirm' or 'reject'.", field="verdict", code="invalid_verdict")
    problem = _locked(problem)
    _refuse_merged(problem)
    if not problem.cause_key:
        raise Conflict("There is no proposed cause to review yet.", code="no_cause", field="verdict")
    state = CauseState.CONFIRMED if verdict == "confirm" else CauseState.REJECTED
    if problem.cause_state == state:
        return problem
    before = {"cause": problem.cause, "cause_state": problem.cause_state}
    after = {"cause": problem.cause, "cause_state": state}
    rejected = [key for key in (problem.rejected_causes or []) if key != problem.cause_key]
    if state == CauseState.REJECTED:
        rejected.append(problem.cause_key)
    problem.rejected_causes = rejected
    problem.cause_state = state
    problem.cause_reviewed_by = actor.user
    problem.cause_reviewed_at = problem.updated_at = timezone.now()
    if state == CauseState.REJECTED:
        following = next_from_evidence(problem.evidence, rejected)
        if following is not None:
            problem.cause, problem.cause_key, problem.cause_state = following["text"], following["key"], CauseState.PROPOSED
    problem.save(update_fields=[
        "cause", "cause_key", "cause_state", "rejected_causes", "cause_reviewed_by", "cause_reviewed_at", "updated_at",
    ])
    _audit(problem, actor, AuditAction.PROBLEM_CAUSE_REVIEWED, before=before, after=after)
    return problem


@transaction.atomic
def problem_merge(*, problem: Problem, into: Problem | None, actor: Actor) -> Problem:
    """``into`` absorbs ``problem``: its turns move (pinned), it becomes "merged" and redirects
    to ``into`` (so do problems merged into it before). Returns ``into``."""
    if into is None:
        raise ValidationFailed("No such problem in this project.", field="into", code="unknown_problem")
    if into.pk == problem.pk:
        raise ValidationFailed("A problem cannot be merged into itself.", field="into", code="same_problem")
    first, second = sorted([problem, into], key=lambda p: p.pk)
    locked = {p.pk: _locked(p) for p in (first, second)}
    problem, into = locked[problem.pk], locked[into.pk]
    _refuse_merged(problem)
    _refuse_merged(into, field="into")
    now = timezone.now()
    moved = ProblemTurn.objects.for_project(problem.project_id).filter(problem=problem).update(problem=into, pinned=True)
    total = sp.csr_matrix(centroid_from_json(into.centroid) * float(max(into.centroid_weight, 1)))
    total = total + centroid_from_json(problem.centroid) * float(max(problem.centroid_weight, 1))
    into.centroid = centroid_to_json(total)
    into.centroid_weight += problem.centroid_weight
    into.needs_cause, into.updated_at = True, now
    into.save(update_fields=["centroid", "centroid_weight", "needs_cause", "updated_at"])
    before = {"status": problem.status, "turns": problem.turn_count}
    Problem.objects.for_project(problem.project_id).filter(merged_into=problem).update(merged_into=into)
    problem.status, problem.merged_into = ProblemStatus.MERGED, into
    problem.turn_count = problem.user_count = problem.count_last_7d = problem.count_prev_7d = 0
    problem.pain = problem.recency = 0.0
    problem.needs_cause, problem.updated_at = False, now
    problem.save(update_fields=[
        "status", "merged_into", "turn_count", "user_count", "count_last_7d", "count_prev_7d", "pain", "recency",
        "needs_cause", "updated_at",
    ])
    problem_stats_refresh(project=into.project, now=now, problem_ids=[into.pk])
    _audit(problem, actor, AuditAction.PROBLEM_MERGED, before=before,
           after={"status": ProblemStatus.MERGED, "merged_into": into.pk, "merged_into_title": into.title, "moved_turns": moved})
    clustering_enqueue(project_id=problem.project_id)
    into.refresh_from_db()
    return into


def _turn_uuids(turn_ids) -> list[uuid.UUID]:
    if not isinstance(turn_ids, (list, tuple)) or not turn_ids:
        raise ValidationFailed("Select at least one turn to split off.", field="turn_ids", code="required")
    if len(turn_ids) > MAX_SPLIT:
        raise ValidationFailed(f"At most {MAX_SPLIT} turns at once.", field="turn_ids", code="too_many")
    try:
        return list(dict.fromkeys(uuid.UUID(str(t)) for t in turn_ids))
    except ValueError:
        raise ValidationFailed("Turn ids are UUIDs.", field="turn_ids", code="invalid") from None


@transaction.atomic
def problem_split(*, problem: Problem, turn_ids, actor: Actor, title: str = "") -> Problem:
    """Move the selected turns of ``problem`` to a new problem (pinned there); returns it."""
    ids = _turn_uuids(turn_ids)
    title = clean_title(title) if title else ""
    problem = _locked(problem)
    _refuse_merged(problem)
    members = selectors.problem_member_turn_ids(problem=problem, turn_ids=ids)
    if len(members) != len(ids):
        raise ValidationFailed(
            f"{len(ids) - len(members)} of the selected turns are not in this problem.", field="turn_ids", code="not_member"
        )
    remaining = ProblemTurn.objects.for_project(problem.project_id).filter(problem=problem).count() - len(ids)
    if remaining <= 0:
        raise ValidationFailed(
            "Splitting off every turn would leave this problem empty; rename it instead.", field="turn_ids", code="split_all"
        )
    now = timezone.now()
    texts_by_id = dict(Turn.objects.for_project(problem.project_id).filter(id__in=ids).values_list("id", "input"))
    texts = [texts_by_id.get(turn_id, "") for turn_id in ids]
    vectors = vectorize(texts)
    part = sp.csr_matrix(np.asarray(vectors.sum(axis=0)))
    centroid = centroid_to_json(part)
    present = [t for t in texts if t]
    index = most_representative(present, centroid_from_json(centroid))
    representative = present[index][:2000] if index is not None else ""
    new = Problem.objects.create(
        project_id=problem.project_id, title=title or title_from(representative), title_locked=bool(title),
        representative_input=representative, category=problem.category, key_tool=problem.key_tool,
        prompt_version=problem.prompt_version, centroid=centroid, centroid_weight=len(ids), needs_cause=True,
        created_at=now, updated_at=now,
    )
    ProblemTurn.objects.for_project(problem.project_id).filter(problem=problem, turn_id__in=ids).update(problem=new, pinned=True)
    rest = centroid_from_json(problem.centroid) * float(max(problem.centroid_weight, 1)) - part
    rest.data = np.maximum(rest.data, 0)
    problem.centroid = centroid_to_json(rest)
    problem.centroid_weight = max(1, problem.centroid_weight - len(ids))
    problem.needs_cause, problem.updated_at = True, now
    problem.save(update_fields=["centroid", "centroid_weight", "needs_cause", "updated_at"])
    problem_stats_refresh(project=problem.project, now=now, problem_ids=[problem.pk, new.pk])
    _audit(problem, actor, AuditAction.PROBLEM_SPLIT, after={
        "new_problem": new.pk, "title": new.title, "turns": len(ids), "turn_ids": sorted(str(t) for t in ids)[:50],
    })
    clustering_enqueue(project_id=problem.project_id)
    new.refresh_from_db()
    return new
