"""Experiments with scored results, live arms of turns with signals, and changes — for validations."""

from __future__ import annotations

import datetime as dt
import uuid

from apps.experiments.models import Experiment, ExperimentResult
from apps.experiments.services.changes import change_create
from apps.traces.models import Signal, Turn
from tests.factories.datasets import DatasetFactory
from tests.factories.experiments import AUTHOR, prompt_with_versions


def experiment_pair(project, *, cases: int = 60, baseline_pass: int = 20, candidate_pass: int = 50, dataset=None,
                    candidate_version: int | None = None):
    """Two experiments over the same dataset version; the first ``*_pass`` cases pass ``exact``."""
    dataset = dataset or DatasetFactory(project=project)
    ids = [uuid.UUID(int=i + 1) for i in range(cases)]
    made = []
    for name, passing, version in (("baseline", baseline_pass, 1), ("candidate", candidate_pass, candidate_version or 1)):
        experiment = Experiment.objects.create(project=project, name=name, dataset=dataset, dataset_version=version, status="done")
        ExperimentResult.objects.bulk_create([
            ExperimentResult(project=project, experiment=experiment, case_id=case, output="o",
                             scores={"exact": index < passing, "similarity": 0.5 + (0.3 if name == "candidate" else 0) + index / 1000})
            for index, case in enumerate(ids)])
        made.append(experiment)
    return made


def arm(project, *, turns: int, with_signal: dict[str, int], variant: str = "", prompt_version: str = "",
        created_at: dt.datetime | None = None) -> None:
    """``turns`` turns of one arm; the first ``with_signal[kind]`` of them carry ``kind``."""
    kwargs = {"created_at": created_at} if created_at else {}
    rows = Turn.objects.bulk_create([Turn(project=project, id=uuid.uuid4(), variant=variant, prompt_version=prompt_version,
                                          input="q", output="a", **kwargs) for _ in range(turns)])
    Signal.objects.bulk_create([Signal(project=project, turn_id=t.id, kind=kind, value=True)
                                for kind, count in with_signal.items() for t in rows[:count]])


def change_for(project, *, problems=None, title: str = "Refund answers cite the policy"):
    """support-agent v1 holds production; the change's candidate is v2."""
    prompt_with_versions(project=project, count=2, labels={"production": 1})
    return change_create(project=project, title=title, prompt="support-agent", candidate=2, problems=problems or [], author=AUTHOR)
