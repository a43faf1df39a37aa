"""Cases from turns: the content is copied, the lineage kept by id (models.py says why).

From a turn: ``input`` = the question, ``history``, ``context`` = the retrieved documents and
tool calls (with their results) as they were, ``expected_output`` = the correction of the latest
confirmed review decision, ``failure_category`` = its category, and the lineage: decision,
reviewer, the problem the turn belongs to. ``metadata`` keeps what the agent answered and with
which prompt version and model.
"""

from __future__ import annotations

import uuid

from apps.datasets.models import CaseSource
from apps.datasets.services.changes import Author, ChangeResult, cases_add, revision_new
from apps.problems.models import Problem, ProblemTurn
from apps.review.models import Decision, ItemState, Verdict
from apps.traces.models import Turn


def _uuids(values) -> tuple[list[uuid.UUID], set[int]]:
    ids, bad = [], set()
    for index, value in enumerate(values):
        try:
            ids.append(uuid.UUID(str(value)))
        except (ValueError, TypeError, AttributeError):
            ids.append(None)
            bad.add(index)
    return ids, bad


def _decisions(project, turn_ids) -> dict:
    """The latest confirming decision of each turn (with its reviewer), by turn id."""
    latest = {}
    rows = (
        Decision.objects.for_project(project).filter(
            item__turn_id__in_array=turn_ids, item__state=ItemState.CONFIRMED, verdict=Verdict.CONFIRM,
        )
        .select_related("reviewer").order_by("created_at", "id").values(
            "id", "item__turn_id", "category", "correction", "reviewer_id", "reviewer__email",
        )
    )
    for row in rows:
        latest[row["item__turn_id"]] = row
    return latest


def _problems(project, turn_ids) -> dict:
    memberships = dict(
        ProblemTurn.objects.for_project(project).filter(turn_id__in_array=turn_ids).values_list("turn_id", "problem_id")
    )
    titles = dict(Problem.objects.for_project(project).filter(pk__in_array=list(set(memberships.values()))).values_list("pk", "title"))
    return {turn_id: (problem_id, titles.get(problem_id, "")) for turn_id, problem_id in memberships.items()}


def revisions_from_turns(*, project, turn_ids, split: str = "", tags=(), decision_ids: dict | None = None) -> list:
    """One unsaved revision per requested turn id, or None where the turn is not in ``project``
    (another project's turn and a missing one are the same: absent). ``decision_ids`` pins the
    decision a case copies (turn id → decision id) instead of the latest confirmed one."""
    ids, _ = _uuids(turn_ids)
    wanted = [turn_id for turn_id in ids if turn_id]
    turns = {turn.id: turn for turn in Turn.objects.for_project(project).filter(id__in_array=wanted)}
    decisions = _decisions(project, list(turns))
    if decision_ids:
        pinned = Decision.objects.for_project(project).filter(pk__in=set(decision_ids.values())).values(
            "id", "item__turn_id", "category", "correction", "reviewer_id", "reviewer__email",
        )
        for row in pinned:
            decisions[row["item__turn_id"]] = row
    problems = _problems(project, list(turns))
    revisions = []
    for turn_id in ids:
        turn = turns.get(turn_id) if turn_id else None
        if turn is None:
            revisions.append(None)
            continue
        decision = decisions.get(turn.id) or {}
        problem_id, problem_title = problems.get(turn.id, (None, ""))
        metadata = {"agent_response": turn.output}
        for name in ("prompt_version", "model", "session_id", "end_user_id", "variant"):
            if getattr(turn, name):
                metadata[name] = getattr(turn, name)
        revisions.append(revision_new({
            "input": turn.input, "history": turn.history if isinstance(turn.history, list) else [],
            "context": {"retrieved": turn.retrieved, "tool_calls": turn.tool_calls},
            "expected_output": decision.get("correction", ""), "failure_category": decision.get("category", ""),
            "tags": list(tags), "split": split, "metadata": metadata,
            "turn_id": turn.id, "decision_id": decision.get("id"), "reviewer_id": decision.get("reviewer_id"),
            "reviewer_email": decision.get("reviewer__email") or "", "problem_id": problem_id,
            "problem_title": (problem_title or "")[:200],
        }, source=CaseSource.TURN))
    return revisions


def cases_add_from_turns(*, dataset, author: Author, turn_ids, split: str = "", tags=(), message: str = "",
                         decision_ids: dict | None = None) -> tuple[ChangeResult, list[dict]]:
    """Add turns as cases in one version; per turn: ``{"turn_id", "status", "case_id"?}`` with
    201 added, 200 already in the dataset (one case per turn), 404 not a turn of this project."""
    revisions = revisions_from_turns(
        project=dataset.project, turn_ids=turn_ids, split=split, tags=tags, decision_ids=decision_ids,
    )
    present = [revision for revision in revisions if revision is not None]
    result, duplicates = cases_add(dataset=dataset, author=author, revisions=present, message=message,
                                   default_message="Turns added")
    duplicate_by_revision = {id(present[index]): case_id for index, case_id in duplicates.items()}
    outcomes = []
    for turn_id, revision in zip(turn_ids, revisions):
        if revision is None:
            outcomes.append({"turn_id": str(turn_id), "status": 404, "code": "not_found", "message": "No such turn in this project."})
        elif id(revision) in duplicate_by_revision:
            outcomes.append({"turn_id": str(turn_id), "status": 200, "case_id": str(duplicate_by_revision[id(revision)])})
        else:
            outcomes.append({"turn_id": str(turn_id), "status": 201, "case_id": str(revision.case_id)})
    return result, outcomes


def problem_confirmed_turn_ids(*, problem) -> list:
    """The turns of a problem that a reviewer confirmed (the problem page's "add to dataset")."""
    turn_ids = ProblemTurn.objects.for_project(problem.project_id).filter(problem=problem).values_list("turn_id", flat=True)
    confirmed = Decision.objects.for_project(problem.project_id).filter(
        item__turn_id__in_array=list(turn_ids), item__state=ItemState.CONFIRMED, verdict=Verdict.CONFIRM,
    ).values_list("item__turn_id", flat=True).distinct()
    return sorted(set(confirmed), key=str)
