"""The demo's offline experiments: support-agent v2 (baseline) and v3 (candidate) run over the
"Refund failures" dataset's latest version, with outputs, posted judge scores and the worker's
scorers (similarity to the reviewer's correction with a pass threshold, "does not punt").

The outputs are fixed text (no model is called): the baseline answers with the correction on
half the cases (the others it punts or answers off the point), the candidate on six in seven;
on the dataset's 40-odd cases that is about nineteen fail→pass flips and three pass→fail flips
of ``matches-correction``, so the offline validation (apps.demo.validations) reaches a real exact
McNemar ``ship`` with both directions listed. Seeding twice changes nothing.
"""

from __future__ import annotations

from apps.datasets.models import Dataset
from apps.datasets.selectors.datasets import revisions_at
from apps.experiments.models import Experiment, Prompt, PromptVersion
from apps.experiments.services.experiments import experiment_create, experiment_score, results_upload

REFUNDS = "Refund failures"
PROMPT = "support-agent"
SCORERS = [
    {"name": "matches-correction", "kind": "similarity", "threshold": 0.6},
    {"name": "no-punt", "kind": "punts"},
    {"name": "judge", "kind": "posted"},
]
PUNT = "I'm sorry, I can't help with that. Please contact support."
OFF = "Refunds are handled case by case; our team will get back to you."
NAMES = ("support-agent v2 on Refund failures", "support-agent v3 on Refund failures")


def _outputs(cases, candidate: bool) -> list[dict]:
    items = []
    for index, case in enumerate(cases):
        good = case.expected_output or case.input
        if candidate:
            text, judge = (OFF, 0.3) if index % 7 == 3 else (good, 0.9)
        else:
            text, judge = (good, 0.8) if index % 4 in (0, 3) else ((PUNT, 0.1) if index % 2 else (OFF, 0.3))
        items.append({"case_id": str(case.case_id), "output": text, "scores": {"judge": judge}})
    return items


def seed_experiments_demo(*, project) -> dict:
    dataset = Dataset.objects.for_project(project).filter(name=REFUNDS).first()
    prompt = Prompt.objects.for_project(project).filter(name=PROMPT).first()
    if dataset is None or dataset.latest_version == 0 or prompt is None:
        return {}
    versions = {v.number: v for v in PromptVersion.objects.for_project(project).filter(prompt=prompt, number__in=[2, 3])}
    if len(versions) < 2:
        return {}
    cases = list(revisions_at(dataset=dataset, number=dataset.latest_version).order_by("position"))
    made = {}
    for name, number, candidate in ((NAMES[0], 2, False), (NAMES[1], 3, True)):
        experiment = Experiment.objects.for_project(project).filter(name=name).first()
        if experiment is None:
            experiment = experiment_create(project=project, name=name, dataset=REFUNDS, dataset_version=dataset.latest_version,
                                           prompt={"name": PROMPT, "version": number}, scorers=SCORERS,
                                           created_by_label="demo")
            results_upload(experiment=experiment, items=_outputs(cases, candidate))
            experiment = experiment_score(experiment=experiment)
        made["candidate" if candidate else "baseline"] = experiment.pk
    return made
