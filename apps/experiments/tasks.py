"""Experiment and validation work on the worker (the ``validate`` queue: apps.core.queues routes
``experiments.*``): scoring and endpoint runs, a validation's report, the beat's re-evaluation of
running online validations, the post-deploy watch, and the beat's catch-up of tasks a broker
outage lost."""

from __future__ import annotations

import logging

from config.celery_app import app

logger = logging.getLogger(__name__)


def _experiment(project_id, experiment_id):
    from apps.experiments.models import Experiment

    found = Experiment.all_tenants.select_related("dataset", "project").filter(project_id=project_id, pk=experiment_id).first()  # unscoped: a task resolves its tenant by id
    if found is None:
        logger.info("experiment %s is gone", experiment_id)
    return found


@app.task(name="experiments.score", acks_late=True, ignore_result=True)
def score(*, project_id: str, experiment_id: int) -> None:
    """Apply the experiment's scorers to its unscored results. Safe to run twice."""
    from apps.experiments.services.experiments import experiment_score

    experiment = _experiment(project_id, experiment_id)
    if experiment is not None:
        experiment_score(experiment=experiment)


@app.task(name="experiments.run_endpoint", acks_late=True, ignore_result=True)
def run_endpoint(*, project_id: str, experiment_id: int) -> None:
    """Call the customer's endpoint for every case without a result, then score. Safe to run twice."""
    from apps.experiments.services.endpoint import endpoint_run

    experiment = _experiment(project_id, experiment_id)
    if experiment is not None:
        endpoint_run(experiment=experiment)


@app.task(name="experiments.validate", acks_late=True, ignore_result=True)
def validate(*, project_id: str, validation_id: int) -> None:
    """Compute one validation's report. Safe to run twice (a finished one is left alone)."""
    from apps.experiments.models import Validation
    from apps.experiments.services.validations import validation_run

    found = Validation.all_tenants.select_related("project").filter(project_id=project_id, pk=validation_id).first()  # unscoped: a task resolves its tenant by id
    if found is None:
        logger.info("experiments.validate: validation %s is gone", validation_id)
        return
    validation_run(validation=found)


@app.task(name="experiments.validate_running", acks_late=True, ignore_result=True)
def validate_running() -> None:
    """Re-evaluate online validations still ``running`` toward their horizon."""
    from apps.experiments.models import Validation
    from apps.experiments.services.validations import validation_run

    for found in Validation.all_tenants.select_related("project").filter(kind="online", status="running"):  # unscoped: the beat walks every tenant
        validation_run(validation=found)


@app.task(name="experiments.watch", acks_late=True, ignore_result=True)
def watch() -> None:
    """The post-deploy watch over every recently promoted change."""
    from apps.experiments.services.watch import watch_due

    watch_due()


@app.task(name="experiments.catch_up", acks_late=True, ignore_result=True)
def catch_up() -> None:
    """Publish again the scoring, endpoint runs and validations a broker outage lost. Safe to run twice."""
    from apps.experiments.services.catch_up import catch_up as sweep

    sweep()
