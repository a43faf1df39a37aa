"""Validations: made once per inputs (``inputs_hash``), run on the worker (``experiments.validate``).

``validation_request`` checks the pinned body, finds or makes the row and publishes the task on
commit; ``validation_run`` computes the report with ``offline.evaluate`` / ``online.evaluate``
(the figures and ``verdicts.decide``), stores it, and stores a failure's error on the row.
A done offline validation is final (the same inputs give the same report); an online one in
``running`` is re-evaluated (by the beat ``experiments.validate_running``) until its horizon.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.errors import NotFound, ValidationFailed
from apps.core.tasks import publish
from apps.experiments import offline, online
from apps.experiments.models import Change, Experiment, Validation, ValidationStatus, ValidationVerdict
from apps.experiments.selectors.experiments import experiment_scores
from apps.experiments.services.validation_inputs import inputs_hash, normalise
from apps.experiments.verdicts import Direction

logger = logging.getLogger(__name__)
TASK = "experiments.validate"


def _experiment(project, pk: int, field: str) -> Experiment:
    found = Experiment.objects.for_project(project).filter(pk=pk).first()
    if found is None:
        raise NotFound(f"No experiment {pk} in this project.", field=field)
    return found


def _check_offline(project, inputs: dict) -> None:
    baseline = _experiment(project, inputs["baseline"], "baseline")
    candidate = _experiment(project, inputs["candidate"], "candidate")
    if (baseline.dataset_id, baseline.dataset_version) != (candidate.dataset_id, candidate.dataset_version):
        raise ValidationFailed(
            f"The experiments ran on different dataset versions ({baseline.dataset_version} and {candidate.dataset_version}"
            f"{'' if baseline.dataset_id == candidate.dataset_id else ', of different datasets'}): compare runs of one version.",
            code="dataset_version_mismatch", field="candidate")


def validation_request(*, project, body, change: Change | None = None, author_label: str = "") -> tuple[Validation, bool]:
    """The validation for these inputs (made if new, its job published); returns it and whether it is new."""
    inputs = normalise(body)
    if isinstance(body, dict) and body.get("change") is not None and change is None:
        change_id = body["change"]
        if isinstance(change_id, bool) or not isinstance(change_id, int):
            raise ValidationFailed("change is a change id.", field="change")
        change = Change.objects.for_project(project).filter(pk=change_id).first()
        if change is None:
            raise NotFound("No such change.", field="change")
    if inputs["kind"] == "offline":
        _check_offline(project, inputs)
    digest = inputs_hash(inputs, change.pk if change else None)
    existing = Validation.objects.for_project(project).filter(inputs_hash=digest).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            validation = Validation.objects.create(project=project, change=change, kind=inputs["kind"], inputs=inputs,
                                                   inputs_hash=digest, created_by_label=author_label[:254])
            transaction.on_commit(lambda: publish(TASK, {"project_id": str(project.pk), "validation_id": validation.pk}))
    except IntegrityError:  # the same inputs posted concurrently
        return Validation.objects.for_project(project).get(inputs_hash=digest), False
    return validation, True


def _metric_body(metric) -> dict:
    return {
        "name": metric.name, "role": metric.role, "direction": str(metric.direction), "unit": metric.unit,
        "baseline": {"n": metric.baseline_n, "value": metric.baseline_value},
        "candidate": {"n": metric.candidate_n, "value": metric.candidate_value},
        "difference": metric.difference, "ci_low": metric.ci_low, "ci_high": metric.ci_high,
        "p_value": metric.p_value, "p_adjusted": metric.p_adjusted, "test": metric.test,
        "tolerance": metric.tolerance, "passed": bool(metric.passed),
    }


def _run_offline(validation: Validation) -> tuple[str, dict]:
    inputs, project = validation.inputs, validation.project
    baseline = _experiment(project, inputs["baseline"], "baseline")
    candidate = _experiment(project, inputs["candidate"], "candidate")
    specs = [offline.MetricSpec(m["scorer"], Direction(m["direction"]), m["tolerance"]) for m in inputs["metrics"]] or None
    result = offline.evaluate(baseline=experiment_scores(project=project, experiment=baseline),
                              candidate=experiment_scores(project=project, experiment=candidate),
                              metrics=specs, alpha=inputs["alpha"])
    flipped = [{"case_id": f.case_id, "scorer": f.scorer, "baseline": f.baseline, "candidate": f.candidate}
               for f in result.flipped]
    report = {"metrics": [_metric_body(m) for m in result.decision.metrics], "flipped": flipped,
              "paired_cases": result.paired_cases, "unpaired_cases": result.unpaired_cases,
              "explanation": result.decision.explanation, "dataset_version": baseline.dataset_version}
    return str(result.decision.verdict), report


def _run_online(validation: Validation) -> tuple[str, dict]:
    inputs = validation.inputs
    (arm_by, baseline), = inputs["baseline"].items()
    candidate = inputs["candidate"][arm_by]

    def goal(item):
        return online.Goal(item["signal"], Direction(item["direction"]), item.get("tolerance", 0.0),
                           item.get("stat", online.RATE))

    def when(text):
        return dt.datetime.fromisoformat(text) if text else None

    result = online.evaluate(
        project=validation.project, arm_by=arm_by, baseline=baseline, candidate=candidate,
        target=goal(inputs["target"]), guardrails=[goal(g) for g in inputs["guardrails"]],
        since=when(inputs["since"]), until=when(inputs["until"]), alpha=inputs["alpha"], design=inputs["design"],
        min_detectable_effect=inputs["min_detectable_effect"], power=inputs["power"], baseline_rate=inputs["baseline_rate"],
    )
    turns = [result.counts[baseline]["turns"], result.counts[candidate]["turns"]]
    progress = 100 if result.sample_needed is None else min(100, int(100 * min(turns) / max(result.sample_needed, 1)))
    report = {"metrics": [_metric_body(m) for m in result.decision.metrics], "sample_needed": result.sample_needed,
              "design": result.design, "counts": result.counts, "explanation": result.decision.explanation,
              "progress": progress}
    return str(result.decision.verdict), report


def validation_run(*, validation: Validation) -> Validation:
    """Compute and store the report. Safe to run twice: a finished validation is left alone, an
    online one still ``running`` is evaluated again on the traffic so far."""
    with transaction.atomic():
        row = Validation.objects.for_project(validation.project_id).select_for_update().get(pk=validation.pk)
        if row.status == ValidationStatus.FAILED or (row.status == ValidationStatus.DONE and row.verdict != ValidationVerdict.RUNNING):
            return row
        row.status = ValidationStatus.RUNNING
        row.save(update_fields=["status"])
    try:
        verdict, report = (_run_offline if row.kind == "offline" else _run_online)(row)
    except (ValueError, NotFound, ValidationFailed) as error:
        message = getattr(error, "message", None) or str(error)
        Validation.objects.for_project(row.project_id).filter(pk=row.pk).update(
            status=ValidationStatus.FAILED, verdict=ValidationVerdict.INCONCLUSIVE, error=message[:2000],
            report={"metrics": [], "explanation": f"Inconclusive: the validation could not be computed: {message}"},
            finished_at=timezone.now())
        row.refresh_from_db()
        return row
    except Exception as error:  # noqa: BLE001 - any failure is shown on the report, then re-raised for the log
        Validation.objects.for_project(row.project_id).filter(pk=row.pk).update(
            status=ValidationStatus.FAILED, verdict=ValidationVerdict.INCONCLUSIVE,
            error=f"{type(error).__name__}: {error}"[:2000], finished_at=timezone.now())
        raise
    done = verdict != ValidationVerdict.RUNNING
    Validation.objects.for_project(row.project_id).filter(pk=row.pk).update(
        status=ValidationStatus.DONE if done else ValidationStatus.RUNNING, verdict=verdict, report=report,
        progress=100 if done else report.get("progress", 0), finished_at=timezone.now() if done else None)
    row.refresh_from_db()
    return row


def validation_body(validation: Validation) -> dict:
    """The pinned ``GET /api/v1/validations/{id}`` shape."""
    report = validation.report or {}
    body = {
        "id": validation.pk, "kind": validation.kind, "status": validation.status, "verdict": validation.verdict,
        "metrics": report.get("metrics", []), "explanation": report.get("explanation", ""),
        "progress": validation.progress, "error": validation.error or None, "inputs": validation.inputs,
        "change": validation.change_id,
    }
    if validation.kind == "offline":
        body["flipped"] = report.get("flipped", [])
    else:
        body["sample_needed"] = report.get("sample_needed")
        body["design"] = report.get("design", validation.inputs.get("design"))
    return body
