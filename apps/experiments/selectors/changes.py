"""Reads of changes, their validations and regressions: the change pages, the session API and the
key routes all read through here, so each answers from the same queries.

Every read is scoped to the project; an id that is foreign, missing or malformed is the same 404
(``NotFound``, which the pages turn into their 404 too).
"""

from __future__ import annotations

from apps.core.errors import NotFound
from apps.experiments.models import Change, Regression, Validation
from apps.problems.models import Problem

MAX_ID = 2**63 - 1


def _pk(value, what: str) -> int:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise NotFound(f"No such {what}.") from None
    if not 1 <= pk <= MAX_ID:
        raise NotFound(f"No such {what}.")
    return pk


def change_list(*, project, status: str | None = None, problem: int | None = None):
    """The project's changes, newest first; ``status`` one of ChangeStatus, ``problem`` an id the change addresses."""
    changes = (Change.objects.for_project(project).select_related("candidate__prompt", "baseline__prompt")
               .order_by("-created_at", "-id"))
    if status is not None:
        changes = changes.filter(status=status)
    if problem is not None:
        changes = changes.filter(problems__id=problem)
    return changes


def change_get(*, project, change_id) -> Change:
    found = change_list(project=project).filter(pk=_pk(change_id, "change")).first()
    if found is None:
        raise NotFound("No such change.")
    return found


def change_validations(*, change: Change) -> list[Validation]:
    """The change's validations, newest first: its verdict history (the first is the one the gate reads)."""
    return list(Validation.objects.for_project(change.project_id).filter(change=change).order_by("-created_at", "-id"))


def change_latest_validation(change: Change) -> Validation | None:
    return Validation.objects.for_project(change.project_id).filter(change=change).order_by("-created_at", "-id").first()


def change_latest_validations(changes) -> dict[int, Validation]:
    """``{change id: its latest validation}`` for a page of changes, in one query."""
    ids = [c.pk for c in changes]
    if not ids:
        return {}
    project_id = changes[0].project_id
    latest: dict[int, Validation] = {}
    rows = Validation.objects.for_project(project_id).filter(change_id__in=ids).order_by("change_id", "-created_at", "-id")
    for row in rows.distinct("change_id"):
        latest[row.change_id] = row
    return latest


def change_problem_ids(change: Change) -> list[int]:
    through = Change.problems.through
    return sorted(through.objects.filter(change_id=change.pk).values_list("problem_id", flat=True))


def change_problems(*, change: Change) -> list[Problem]:
    return list(Problem.objects.for_project(change.project_id).filter(pk__in=change_problem_ids(change)).order_by("-pain", "id"))


def change_regressions(*, change: Change, newest_first: bool = True) -> list[Regression]:
    order = ("-raised_at", "-id") if newest_first else ("id",)
    return list(Regression.objects.for_project(change.project_id).filter(change=change).order_by(*order))


def validation_list(*, project, change: int | None = None, kind: str | None = None, status: str | None = None):
    """The project's validations, newest first, optionally of one change, kind or status."""
    validations = Validation.objects.for_project(project).order_by("-created_at", "-id")
    if change is not None:
        validations = validations.filter(change_id=change)
    if kind is not None:
        validations = validations.filter(kind=kind)
    if status is not None:
        validations = validations.filter(status=status)
    return validations


def validation_get(*, project, validation_id) -> Validation:
    found = Validation.objects.for_project(project).filter(pk=_pk(validation_id, "validation")).first()
    if found is None:
        raise NotFound("No such validation.")
    return found



def change_problem_choices(*, project, limit: int = 50) -> list[Problem]:
    """The problems a new change may name on the form: the backlog's most painful first."""
    return list(Problem.objects.for_project(project).order_by("-pain", "id")[:limit])
