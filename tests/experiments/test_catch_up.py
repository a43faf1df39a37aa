"""The catch-up beat: what a broker outage kept from being published — a validation still
pending, an experiment with unscored results, an endpoint run never started — is published again
once it has waited ``EXPERIMENTS_CATCH_UP_MINUTES``, not twice in that time, and running the
re-published tasks twice finishes the work once."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from apps.experiments.models import Experiment, ExperimentResult, Validation
from apps.experiments.services.catch_up import catch_up, stuck_experiments, stuck_validations
from apps.experiments.services.validations import validation_request
from apps.experiments.tasks import catch_up as catch_up_task
from apps.experiments.tasks import score, validate
from tests.factories.datasets import DatasetFactory
from tests.factories.validations import experiment_pair

pytestmark = pytest.mark.django_db(transaction=True)


def _unscored_experiment(project) -> Experiment:
    experiment = Experiment.objects.create(project=project, name="uploaded", dataset=DatasetFactory(project=project),
                                           dataset_version=1, status="running", cases_total=3,
                                           scorers=[{"name": "has", "kind": "contains", "value": "days"}])
    ExperimentResult.objects.bulk_create([
        ExperimentResult(project=project, experiment=experiment, case_id=uuid.uuid4(), output=text)
        for text in ("30 days", "a week", "within 30 days")])
    return experiment


def test_lost_work_is_published_again_once_and_the_tasks_finish_it_once(project, other_project, settings):
    settings.EXPERIMENTS_CATCH_UP_MINUTES = 10
    long_ago = timezone.now() - dt.timedelta(minutes=30)
    baseline, candidate = experiment_pair(project)
    lost, _ = validation_request(project=project, body={"kind": "offline", "baseline": baseline.pk, "candidate": candidate.pk})
    fresh_baseline, fresh_candidate = experiment_pair(other_project)
    fresh, _ = validation_request(project=other_project, body={
        "kind": "offline", "baseline": fresh_baseline.pk, "candidate": fresh_candidate.pk})
    unscored = _unscored_experiment(project)
    endpoint = Experiment.objects.create(project=project, name="endpoint", dataset=unscored.dataset, dataset_version=1,
                                         source="endpoint", status="pending", cases_total=3, created_at=long_ago)
    Validation.objects.for_project(project).filter(pk=lost.pk).update(created_at=long_ago)
    Experiment.objects.for_project(project).filter(pk=unscored.pk).update(updated_at=long_ago)
    Experiment.objects.for_project(project).filter(pk__in=[baseline.pk, candidate.pk]).update(updated_at=long_ago)

    first = catch_up()
    second = catch_up()
    catch_up_task.run()  # the beat's door: also a no-op within the minutes

    pid = str(project.pk)
    assert sorted(first) == sorted([
        ("experiments.validate", {"project_id": pid, "validation_id": lost.pk}),
        ("experiments.score", {"project_id": pid, "experiment_id": unscored.pk}),
        ("experiments.run_endpoint", {"project_id": pid, "experiment_id": endpoint.pk}),
    ])
    assert second == []

    # When a worker runs what was published (twice, as a redelivery would)
    for _ in range(2):
        validate.run(project_id=pid, validation_id=lost.pk)
        score.run(project_id=pid, experiment_id=unscored.pk)

    # Then each is done once, and only the endpoint run (no worker ran it here) is still waiting
    lost.refresh_from_db()
    unscored.refresh_from_db()
    assert (lost.status, lost.verdict) == ("done", "ship")
    assert Validation.objects.for_project(project).count() == 1
    assert (unscored.status, unscored.cases_done, unscored.summary["has"]["passed"]) == ("done", 3, 2)
    later = timezone.now() - dt.timedelta(minutes=10)
    assert list(stuck_validations(before=later)) == []
    assert list(stuck_experiments(before=later)) == [(project.pk, endpoint.pk, "endpoint")]


def test_the_beat_runs_the_catch_up_every_five_minutes():
    from config.celery_app import app

    assert app.conf.beat_schedule["experiments.catch_up"] == {"task": "experiments.catch_up", "schedule": 300.0}
