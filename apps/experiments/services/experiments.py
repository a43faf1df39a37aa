"""Experiments: create one over a pinned dataset version, upload outputs per case, score on the worker.

- ``experiment_create``: the dataset (by name) and its version must exist in the project; the
  prompt ``{"name", "version"}`` too (or a named ``configuration``); scorers are validated
  (``apps.experiments.scorers.validate_scorers``: 400 ``invalid_scorer``).
- ``results_upload``: per-item outcomes like ``/api/v1/ingest``: 201 stored, 200 updated (same
  ``(experiment, case_id)``: one row, output and scores replaced), 400 a bad item, 404 a case not
  in that dataset version. One INSERT … ON CONFLICT for the good items; scoring is published to
  the worker (``experiments.score``) on commit.
- ``experiment_score``: applies the scorers to every unscored result (idempotent: the same
  outputs give the same scores), keeps progress on the row and the summary per scorer; a
  failure is stored in ``error`` with status ``failed``.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from apps.core.errors import ValidationFailed
from apps.core.tasks import publish
from apps.core.text import InvalidText, clean_text, required_name
from apps.datasets.selectors import datasets as dataset_selectors
from apps.experiments import scorers as scoring
from apps.experiments.models import Experiment, ExperimentResult, ExperimentSource, ExperimentStatus
from apps.experiments.selectors import prompts as prompt_selectors

logger = logging.getLogger(__name__)

MAX_RESULTS = 1000
MAX_OUTPUT = 100_000
MAX_POSTED = 50


@dataclass
class Outcome:
    case_id: str | None
    status: int
    code: str = ""
    message: str = ""
    field: str = ""

    def as_dict(self) -> dict:
        out = {"case_id": self.case_id, "status": self.status}
        if self.status >= 400:
            out.update(code=self.code, message=self.message, field=self.field)
        return out


@dataclass
class Upload:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return sum(1 for o in self.outcomes if o.status >= 400)

    def as_dict(self) -> dict:
        return {"accepted": len(self.outcomes) - self.rejected, "rejected": self.rejected,
                "results": [o.as_dict() for o in self.outcomes]}


def experiment_create(*, project, name, dataset, dataset_version, prompt=None, configuration=None, scorers=None,
                      source: str = ExperimentSource.SDK, created_by_id=None, created_by_label: str = "",
                      endpoint: dict | None = None) -> Experiment:
    """``endpoint`` is ``services.endpoint.endpoint_clean``'s checked ``{"url", "secret", "timeout",
    "concurrency"}``; its secret is sealed, bound to the new experiment's id."""
    name = required_name(name, "name", max_length=200)
    if not isinstance(dataset, str) or not dataset:
        raise ValidationFailed("`dataset` is the dataset's name.", field="dataset")
    found = dataset_selectors.dataset_get_by_name(project=project, name=dataset)
    if isinstance(dataset_version, bool) or not isinstance(dataset_version, int):
        raise ValidationFailed("`dataset_version` is a version number.", field="dataset_version")
    version = dataset_selectors.version_get(dataset=found, number=dataset_version)
    prompt_version = None
    if prompt is not None:
        if not isinstance(prompt, dict) or not isinstance(prompt.get("name"), str) \
                or isinstance(prompt.get("version"), bool) or not isinstance(prompt.get("version"), int):
            raise ValidationFailed("`prompt` is {\"name\", \"version\"}.", field="prompt")
        prompt_version = prompt_selectors.prompt_version_get(
            prompt=prompt_selectors.prompt_get(project=project, name=prompt["name"]), number=prompt["version"])
    if configuration is not None:
        if not isinstance(configuration, dict) or not isinstance(configuration.get("name"), str):
            raise ValidationFailed("`configuration` is an object with a `name`.", field="configuration")
        required_name(configuration["name"], "configuration", max_length=200)
    cleaned = scoring.validate_scorers(scorers)
    with transaction.atomic():
        experiment = Experiment.objects.create(
            project=project, name=name, dataset=found, dataset_version=version.number, prompt_version=prompt_version,
            configuration=configuration or {}, scorers=cleaned, source=source, cases_total=version.cases_count,
            created_by_id=created_by_id, created_by_label=created_by_label[:254],
        )
        if endpoint:
            from apps.core.sealing import seal

            experiment.endpoint_url = endpoint["url"]
            experiment.endpoint_timeout_seconds, experiment.endpoint_concurrency = endpoint["timeout"], endpoint["concurrency"]
            experiment.endpoint_secret = seal(endpoint["secret"].encode(), context=f"experiment-endpoint:{experiment.pk}")
            experiment.save(update_fields=["endpoint_url", "endpoint_timeout_seconds", "endpoint_concurrency", "endpoint_secret"])
    return experiment


def _item(raw, index: int) -> tuple[uuid.UUID, str, dict, str] | Outcome:
    if not isinstance(raw, dict):
        return Outcome(None, 400, "invalid", "Each result is an object {\"case_id\", \"output\", \"scores\"?}.", f"results[{index}]")
    case_raw = raw.get("case_id")
    label = case_raw if isinstance(case_raw, str) else None
    try:
        case_id = uuid.UUID(case_raw) if isinstance(case_raw, str) else None
    except ValueError:
        case_id = None
    if case_id is None:
        return Outcome(label, 400, "invalid", "`case_id` is the case's UUID.", f"results[{index}].case_id")
    output = raw.get("output")
    if not isinstance(output, str):
        return Outcome(label, 400, "invalid", "`output` is a string.", f"results[{index}].output")
    if len(output) > MAX_OUTPUT:
        return Outcome(label, 400, "too_large", f"`output` is at most {MAX_OUTPUT} characters.", f"results[{index}].output")
    posted = raw.get("scores", {})
    if posted is None:
        posted = {}
    if not isinstance(posted, dict) or len(posted) > MAX_POSTED:
        return Outcome(label, 400, "invalid", f"`scores` is an object of at most {MAX_POSTED} name → number or boolean.", f"results[{index}].scores")
    for key, value in posted.items():
        if not scoring.NAME_RE.match(key):
            return Outcome(label, 400, "invalid", "A score name is 1-64 letters, digits, '.', '_' or '-'.", f"results[{index}].scores")
        if not isinstance(value, (bool, int, float)) or (isinstance(value, float) and not math.isfinite(value)) \
                or (isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53):
            return Outcome(label, 400, "invalid", f"Score {key!r} is a finite number or a boolean.", f"results[{index}].scores")
    error = raw.get("error", "")
    if not isinstance(error, str):
        return Outcome(label, 400, "invalid", "`error` is a string.", f"results[{index}].error")
    try:
        output, error = clean_text(output), clean_text(error[:2000])
    except InvalidText as exc:
        return Outcome(label, 400, "invalid", str(exc), f"results[{index}].output")
    return case_id, output, posted, error


def results_upload(*, experiment: Experiment, items, latency: dict | None = None) -> Upload:
    """Store one output per case (module doc); per-item outcomes, in the order sent."""
    if not isinstance(items, list):
        raise ValidationFailed("`results` is a list.", field="results")
    if len(items) > MAX_RESULTS:
        raise ValidationFailed(f"At most {MAX_RESULTS} results per request.", code="batch_too_long", field="results")
    parsed = [_item(raw, i) for i, raw in enumerate(items)]
    wanted = {p[0] for p in parsed if not isinstance(p, Outcome)}
    known = set(
        dataset_selectors.revisions_at(dataset=experiment.dataset, number=experiment.dataset_version)
        .filter(case_id__in=wanted).values_list("case_id", flat=True)
    ) if wanted else set()
    rows = ExperimentResult.objects.for_project(experiment.project)
    existing = set(rows.filter(experiment=experiment, case_id__in=known).values_list("case_id", flat=True)) if known else set()
    upload, keep, seen = Upload(), {}, set()
    now = timezone.now()
    for p in parsed:
        if isinstance(p, Outcome):
            upload.outcomes.append(p)
            continue
        case_id, output, posted, error = p
        if case_id not in known:
            upload.outcomes.append(Outcome(str(case_id), 404, "not_found",
                                           f"No case {case_id} in {experiment.dataset.name} version {experiment.dataset_version}.", "case_id"))
            continue
        status = 200 if case_id in existing or case_id in seen else 201
        seen.add(case_id)
        keep[case_id] = ExperimentResult(
            project=experiment.project, experiment=experiment, case_id=case_id, output=output, posted=posted,
            scores={}, scored=False, error=error, created_at=now, updated_at=now,
            latency_ms=(latency or {}).get(case_id),
        )
        upload.outcomes.append(Outcome(str(case_id), status))
    if keep:
        with transaction.atomic():
            ExperimentResult.objects.for_project(experiment.project).bulk_create(
                list(keep.values()), update_conflicts=True, unique_fields=["project", "experiment", "case_id"],
                update_fields=["output", "posted", "scores", "scored", "error", "latency_ms", "updated_at"],
            )
            Experiment.objects.for_project(experiment.project).filter(pk=experiment.pk).update(
                status=ExperimentStatus.RUNNING, updated_at=now, error="")
            schedule_scoring(experiment)
    return upload


def schedule_scoring(experiment: Experiment) -> None:
    project_id, pk = str(experiment.project_id), experiment.pk
    transaction.on_commit(lambda: publish("experiments.score", {"project_id": project_id, "experiment_id": pk}))


def _punt_phrases(project):
    """The project's agent_punted phrases (its detector settings), else the defaults."""
    from apps.detection.config import DEFAULT_PUNT_PHRASES
    from apps.detection.models import DetectorSettings

    row = DetectorSettings.objects.for_project(project).filter(detector="agent_punted").first()
    phrases = (row.params or {}).get("phrases") if row else None
    return phrases if isinstance(phrases, list) and phrases else DEFAULT_PUNT_PHRASES


def experiment_score(*, experiment: Experiment, batch: int = 500) -> Experiment:
    """Score every unscored result, then refresh the summary. Safe to run twice."""
    try:
        phrases = tuple(_punt_phrases(experiment.project))
        rows = ExperimentResult.objects.for_project(experiment.project).filter(experiment=experiment, scored=False)
        while True:
            chunk = list(rows.order_by("id")[:batch])
            if not chunk:
                break
            cases = {
                r.case_id: r for r in dataset_selectors.revisions_at(dataset=experiment.dataset, number=experiment.dataset_version)
                .filter(case_id__in=[c.case_id for c in chunk])
            }
            for result in chunk:
                case = cases.get(result.case_id)
                data = {"input": case.input, "expected_output": case.expected_output} if case else {}
                result.scores = {} if result.error else scoring.score_case(
                    result.output, data, experiment.scorers, posted=result.posted, punt_phrases=phrases)
                result.scored = True
            with transaction.atomic():
                ExperimentResult.objects.for_project(experiment.project).bulk_update(chunk, ["scores", "scored"])
                _progress(experiment)
        with transaction.atomic():
            _progress(experiment, final=True)
    except Exception as exc:  # noqa: BLE001 - stored on the row, shown on the page
        logger.exception("experiments.score failed for %s", experiment.pk)
        Experiment.objects.for_project(experiment.project).filter(pk=experiment.pk).update(
            status=ExperimentStatus.FAILED, error=f"Scoring failed: {exc.__class__.__name__}: {str(exc)[:500]}",
            updated_at=timezone.now())
    experiment.refresh_from_db()
    return experiment


def _progress(experiment: Experiment, *, final: bool = False) -> None:
    rows = ExperimentResult.objects.for_project(experiment.project).filter(experiment=experiment)
    done = rows.filter(scored=True).count()
    fields = {"cases_done": done, "updated_at": timezone.now()}
    if final:
        fields["summary"] = summarize(rows.values_list("scores", "error"))
        fields["status"] = ExperimentStatus.DONE
    Experiment.objects.for_project(experiment.project).filter(pk=experiment.pk).update(**fields)


def summarize(rows) -> dict:
    """``{scorer: {"n", "passed", "pass_rate", "mean"}}`` over ``(scores, error)`` rows; ``passed``
    and ``pass_rate`` only for pass/fail scorers, ``mean`` for both (a boolean counts 1/0)."""
    totals: dict[str, dict] = {}
    for scores, error in rows:
        if error or not isinstance(scores, dict):
            continue
        for name, value in scores.items():
            t = totals.setdefault(name, {"n": 0, "passed": 0, "sum": 0.0, "boolean": True})
            t["n"] += 1
            if isinstance(value, bool):
                t["passed"] += int(value)
                t["sum"] += float(value)
            else:
                t["boolean"] = False
                t["sum"] += float(value)
    out = {}
    for name in sorted(totals):
        t = totals[name]
        entry = {"n": t["n"], "mean": round(t["sum"] / t["n"], 6) if t["n"] else None}
        if t["boolean"]:
            entry.update(passed=t["passed"], pass_rate=round(t["passed"] / t["n"], 6) if t["n"] else None)
        else:
            entry.update(passed=None, pass_rate=None)
        out[name] = entry
    return out
