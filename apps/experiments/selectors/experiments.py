"""Reads of experiments and their results (project-scoped; a foreign id is the same 404)."""

from __future__ import annotations

import uuid

from apps.core.errors import NotFound
from apps.experiments.models import Experiment, ExperimentResult


def experiment_list(*, project):
    return Experiment.objects.for_project(project).select_related("dataset", "prompt_version__prompt").order_by("-created_at", "-id")


def experiment_get(*, project, experiment_id) -> Experiment:
    """The project's experiment with that id; a foreign, missing or malformed id is 404."""
    try:
        pk = int(experiment_id)
    except (TypeError, ValueError):
        raise NotFound("No such experiment.") from None
    if pk <= 0 or pk > 2**63 - 1:
        raise NotFound("No such experiment.")
    found = experiment_list(project=project).filter(pk=pk).first()
    if found is None:
        raise NotFound("No such experiment.")
    return found


def _experiment(project, experiment) -> Experiment:
    if isinstance(experiment, Experiment):
        if experiment.project_id != project.id:
            raise NotFound("No such experiment.")
        return experiment
    return experiment_get(project=project, experiment_id=experiment)


def experiment_scores(*, project, experiment) -> dict[str, dict[str, bool | float]]:
    """``{case_id (str): {scorer name: bool | float}}`` of the experiment's scored cases.

    ``experiment`` is an Experiment or its id. Cases with an error or no score yet are left out
    (a validation pairs only cases both sides scored). Booleans stay booleans (pass/fail scorers);
    numbers become floats.
    """
    found = _experiment(project, experiment)
    out: dict[str, dict[str, bool | float]] = {}
    rows = ExperimentResult.objects.for_project(project).filter(experiment=found).values_list("case_id", "scores")
    for case_id, scores in rows.iterator(chunk_size=2000):
        if not isinstance(scores, dict) or not scores:
            continue
        clean: dict[str, bool | float] = {}
        for name, value in scores.items():
            if isinstance(value, bool):
                clean[name] = value
            elif isinstance(value, (int, float)):
                clean[name] = float(value)
        if clean:
            out[str(case_id)] = clean
    return out


def result_case_ids(*, experiment: Experiment) -> list[str]:
    """The case ids already uploaded without an error (what a resumed SDK run skips; failed cases are retried)."""
    rows = ExperimentResult.objects.for_project(experiment.project).filter(experiment=experiment, error="")
    return [str(c) for c in rows.order_by("case_id").values_list("case_id", flat=True)]


def results_of(*, experiment: Experiment):
    return ExperimentResult.objects.for_project(experiment.project).filter(experiment=experiment).order_by("id")


def result_map(*, experiment: Experiment) -> dict[uuid.UUID, ExperimentResult]:
    return {r.case_id: r for r in results_of(experiment=experiment)}


def experiment_progress(*, experiment: Experiment) -> dict:
    """What the experiment page shows while it fills: results stored, with an error, scored, in
    one aggregate; ``percent`` of the dataset version's cases answered; ``active`` while pending
    or running (the page polls then)."""
    from django.db.models import Count, Q

    counts = ExperimentResult.objects.for_project(experiment.project_id).filter(experiment=experiment).aggregate(
        answered=Count("pk"), errors=Count("pk", filter=~Q(error="")), scored=Count("pk", filter=Q(scored=True)))
    total = experiment.cases_total
    return {**counts, "total": total, "percent": min(100, round(100 * counts["answered"] / total)) if total else 0,
            "active": experiment.status in ("pending", "running")}
