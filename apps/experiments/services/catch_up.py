"""The catch-up sweep of the ``validate`` queue's work (beat ``experiments.catch_up``).

Scoring, endpoint runs and validations are published on commit (``apps.core.tasks.publish``);
when the broker was down at that moment the publish was skipped and nothing would ever send it
again. Every few minutes the beat finds the rows still waiting and publishes their task again:

- a validation still ``pending`` (its job never started), or an offline one ``running`` with no
  report (its worker vanished), created more than ``EXPERIMENTS_CATCH_UP_MINUTES`` ago →
  ``experiments.validate`` (online ones in ``running`` are ``experiments.validate_running``'s);
- an experiment with an endpoint still ``pending`` (its run never started), or ``running`` with
  no progress for that long while cases are missing or unscored → ``experiments.run_endpoint``;
- any other experiment ``running`` with unscored results and no progress for that long →
  ``experiments.score``.

Every one of those tasks is safe to run twice (a finished validation is left alone, scoring skips
scored results, an endpoint run skips answered cases), so a publish too many costs a no-op. A
row published by a sweep is not published again for the same number of minutes (a Redis key
with that expiry, set once the broker took the task), so a worker busy with a long queue is not
buried under copies. Bounded: at most ``LIMIT`` rows of each kind a sweep, oldest first.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.core.redis import redis_client
from apps.core.tasks import publish
from apps.experiments.models import (Experiment, ExperimentResult, ExperimentSource, ExperimentStatus, Validation,
                                     ValidationKind, ValidationStatus)

logger = logging.getLogger(__name__)
LIMIT = 500
DEFAULT_MINUTES = 10
KEY = "agentloop:catch-up:{task}:{project_id}:{pk}"


def _minutes() -> int:
    return int(getattr(settings, "EXPERIMENTS_CATCH_UP_MINUTES", DEFAULT_MINUTES))


def stuck_validations(*, before: dt.datetime):
    lost = Validation.all_tenants.filter(created_at__lt=before, status=ValidationStatus.PENDING)  # unscoped: the sweep walks every tenant
    vanished = Validation.all_tenants.filter(  # unscoped: the sweep walks every tenant
        created_at__lt=before, status=ValidationStatus.RUNNING, kind=ValidationKind.OFFLINE, report={})
    return (lost | vanished).order_by("created_at").values_list("project_id", "pk")[:LIMIT]


def stuck_experiments(*, before: dt.datetime):
    """``(project_id, pk, source)`` of experiments waiting for a task (module doc)."""
    results = ExperimentResult.all_tenants.filter(  # unscoped: correlated with the experiment's own project
        project_id=OuterRef("project_id"), experiment_id=OuterRef("pk"))
    answered = results.values("experiment_id").annotate(n=Count("pk")).values("n")
    incomplete = Q(source=ExperimentSource.ENDPOINT) & Q(cases_total__gt=Coalesce(Subquery(answered), 0))
    waiting = Experiment.all_tenants.filter(  # unscoped: the sweep walks every tenant
        Exists(results.filter(scored=False)) | incomplete, updated_at__lt=before, status=ExperimentStatus.RUNNING)
    never_started = Experiment.all_tenants.filter(  # unscoped: the sweep walks every tenant
        created_at__lt=before, status=ExperimentStatus.PENDING, source=ExperimentSource.ENDPOINT)
    return (waiting | never_started).order_by("updated_at").values_list("project_id", "pk", "source")[:LIMIT]


def _send(task: str, project_id, pk: int, kwargs: dict, expiry: int) -> bool:
    key = KEY.format(task=task, project_id=project_id, pk=pk)
    client = redis_client()
    if client.exists(key):
        return False
    if not publish(task, kwargs):
        return False
    client.set(key, "1", ex=expiry)
    return True


def catch_up(*, now: dt.datetime | None = None) -> list[tuple[str, dict]]:
    """Publish again what the broker lost (module doc); returns the ``(task, kwargs)`` sent."""
    minutes = _minutes()
    before = (now or timezone.now()) - dt.timedelta(minutes=minutes)
    sent = []
    for project_id, pk in stuck_validations(before=before):
        kwargs = {"project_id": str(project_id), "validation_id": pk}
        if _send("experiments.validate", project_id, pk, kwargs, minutes * 60):
            sent.append(("experiments.validate", kwargs))
    for project_id, pk, source in stuck_experiments(before=before):
        task = "experiments.run_endpoint" if source == ExperimentSource.ENDPOINT else "experiments.score"
        kwargs = {"project_id": str(project_id), "experiment_id": pk}
        if _send(task, project_id, pk, kwargs, minutes * 60):
            sent.append((task, kwargs))
    if sent:
        logger.info("experiments.catch_up published %d lost tasks again", len(sent))
    return sent
