"""The JSON bodies of experiments (key and session routes share them)."""

from __future__ import annotations

from apps.experiments.models import Experiment, ExperimentResult


def experiment_body(experiment: Experiment) -> dict:
    rows = ExperimentResult.objects.for_project(experiment.project_id).filter(experiment=experiment)
    version = experiment.prompt_version
    return {
        "id": experiment.pk,
        "name": experiment.name,
        "dataset": experiment.dataset.name,
        "dataset_version": experiment.dataset_version,
        "prompt": {"name": version.prompt.name, "version": version.number} if version else None,
        "configuration": experiment.configuration,
        "scorers": experiment.scorers,
        "source": experiment.source,
        "status": experiment.status,
        "cases_total": experiment.cases_total,
        "cases_done": experiment.cases_done,
        "results_count": rows.count(),
        "errors_count": rows.exclude(error="").count(),
        "error": experiment.error,
        "summary": experiment.summary,
        "created_at": experiment.created_at.isoformat(),
    }
