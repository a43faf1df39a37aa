"""Routing flagged turns into review queues, on the worker.

Both tasks are safe to run twice: an item is unique per (project, queue, turn) and inserted with
``ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone

from apps.core.tasks import publish
from config.celery_app import app

logger = logging.getLogger(__name__)

SWEEP_WINDOW = dt.timedelta(minutes=30)
SWEEP_LIMIT_PER_PROJECT = 5000


@app.task(name="review.route", acks_late=True, ignore_result=True)
def route(*, project_id, turn_ids=None) -> None:
    """Route the given turns of one project (or, without ids, its recently flagged turns)."""
    from apps.projects.models import Project
    from apps.review.services import items as item_services

    project = Project.all_tenants.filter(pk=project_id).first()  # unscoped: a task resolves its project by id
    if project is None:
        logger.info("review.route: project %s is gone", project_id)
        return
    if turn_ids is None:
        turn_ids = item_services.review_recent_signal_turns(
            project=project, since=timezone.now() - SWEEP_WINDOW, limit=SWEEP_LIMIT_PER_PROJECT
        )
    created = item_services.review_route_turns(project=project, turn_ids=turn_ids)
    if created:
        logger.info("review.route: %s new items in project %s", created, project_id)
        # The pipeline's next step: new items are new evidence for the problems backlog (by name).
        publish("problems.cluster_project", {"project_id": str(project_id)})


@app.task(name="review.route_recent", acks_late=True, ignore_result=True)
def route_recent() -> None:
    """Beat, a catch-up sweep: detection publishes routing for the turns it flags, so this only
    re-routes after a lost publish (a broker outage). It visits the projects that have a routing
    queue and a signal newer than the sweep window, nothing else."""
    from django.db.models import Exists, OuterRef

    from apps.review.models import ReviewQueue
    from apps.traces.models import Signal

    recent = Signal.all_tenants.filter(project=OuterRef("project"), created_at__gte=timezone.now() - SWEEP_WINDOW)  # unscoped: correlated to each queue's project
    queues = ReviewQueue.all_tenants.exclude(routing__signal_kinds=[]).filter(Exists(recent))  # unscoped: the sweep visits every project with queues
    for project_id in set(queues.values_list("project_id", flat=True)):
        publish(route.name, {"project_id": str(project_id)})
