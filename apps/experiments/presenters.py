"""The JSON bodies of experiments and changes (key routes, session routes and pages share them)."""

from __future__ import annotations

from apps.experiments import diff
from apps.experiments.models import Change, Experiment, ExperimentResult, Validation
from apps.experiments.selectors import changes as change_selectors


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


def _when(value) -> str | None:
    return value.isoformat() if value else None


def change_body(change: Change, latest=...) -> dict:
    """A change with its latest verdict and regressions (``latest``: its latest validation or None, when the
    caller read it already; omitted, it is read here)."""
    if latest is ...:
        latest = change_selectors.change_latest_validation(change)
    return {
        "id": change.pk, "title": change.title, "description": change.description, "status": change.status,
        "prompt": change.candidate.prompt.name, "candidate": change.candidate.number, "baseline": change.baseline.number,
        "label": change.label, "problems": change_selectors.change_problem_ids(change),
        "latest_validation": {"id": latest.pk, "verdict": latest.verdict} if latest else None,
        "created_at": change.created_at.isoformat(), "promoted_at": _when(change.promoted_at),
        "regressions": [{"id": r.pk, "signal": r.signal, "explanation": r.explanation, "resolved": r.resolved_at is not None}
                        for r in change_selectors.change_regressions(change=change, newest_first=False)],
    }


def _diff_summary(change: Change) -> list[dict]:
    """Per section (template, tools, settings) of baseline → candidate: changed, lines added and removed."""
    summary = []
    for section in diff.version_diff(change.baseline, change.candidate):
        added = sum(1 for row in section.rows if row.kind in ("insert", "replace"))
        removed = sum(1 for row in section.rows if row.kind in ("delete", "replace"))
        summary.append({"name": section.name, "changed": section.changed, "added": added, "removed": removed})
    return summary


def validation_summary(validation: Validation) -> dict:
    return {"id": validation.pk, "kind": validation.kind, "status": validation.status, "verdict": validation.verdict,
            "progress": validation.progress, "change": validation.change_id, "created_at": validation.created_at.isoformat(),
            "finished_at": _when(validation.finished_at)}


def change_detail_body(change: Change) -> dict:
    """``change_body`` plus the problems (id, title, status), the prompt diff summary, the validations (newest first) and
    the verdict history (oldest first: how the gate's answer changed)."""
    validations = change_selectors.change_validations(change=change)
    return {
        **change_body(change, latest=validations[0] if validations else None),
        "problem_details": [{"id": p.pk, "title": p.title, "status": p.status} for p in change_selectors.change_problems(change=change)],
        "diff": _diff_summary(change),
        "validations": [validation_summary(v) for v in validations],
        "verdict_history": [{"validation": v.pk, "kind": v.kind, "verdict": v.verdict, "at": _when(v.finished_at or v.created_at)}
                            for v in reversed(validations)],
    }
