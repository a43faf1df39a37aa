"""The Celery application. Workers: ``celery -A config.celery_app worker``."""

import os

from celery import Celery
from kombu import Queue as KombuQueue
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("agentloop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _route(name, args, kwargs, options, task=None, **extra):
    from apps.core.queues import queue_for

    return {"queue": str(queue_for(name))}


def _declare_queues() -> None:
    """Every queue of the one enum, so a worker without ``-Q`` serves them all; tasks are routed
    by the app prefix of their name (apps.core.queues)."""
    from apps.core.queues import Queue

    app.conf.task_queues = [KombuQueue(str(queue), routing_key=str(queue)) for queue in Queue]
    app.conf.task_default_queue = str(Queue.LIFECYCLE)
    app.conf.task_routes = (_route,)


_declare_queues()

# The one beat schedule.
app.conf.beat_schedule = {
    "core.heartbeat": {"task": "core.heartbeat", "schedule": 30.0},
    "traces.expire_waiting": {"task": "traces.expire_waiting", "schedule": 15 * 60.0},
    "detection.sweep": {"task": "detection.sweep", "schedule": 60.0},
    # Catch-up sweeps only: the pipeline is chained on commit (ingest → detect → route → cluster).
    "review.route_recent": {"task": "review.route_recent", "schedule": 15 * 60.0},
    "problems.cluster_all": {"task": "problems.cluster_all", "schedule": 15 * 60.0},
    "experiments.validate_running": {"task": "experiments.validate_running", "schedule": 5 * 60.0},
    "experiments.watch": {"task": "experiments.watch", "schedule": 15 * 60.0},
    "governance.expire": {"task": "governance.expire", "schedule": 60 * 60.0},
    "experiments.catch_up": {"task": "experiments.catch_up", "schedule": 5 * 60.0},
}


@beat_init.connect
def _heartbeat_at_start(sender=None, **kwargs) -> None:
    """Interval schedules first fire one interval after beat starts; /healthz should not wait."""
    sender.app.send_task("core.heartbeat")


@worker_init.connect
def _warm_detection(**kwargs) -> None:
    """Load the similarity kernel (numba and its cached machine code, about a second) once in
    the parent worker process, so no child pays for it on its first detection task."""
    from apps.detection.similarity import warm_up

    warm_up()
