"""The Celery application. Workers: ``celery -A config.celery_app worker``."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("agentloop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The one beat schedule.
app.conf.beat_schedule = {
    "core.heartbeat": {"task": "core.heartbeat", "schedule": 30.0},
    "traces.expire_waiting": {"task": "traces.expire_waiting", "schedule": 15 * 60.0},
    "detection.sweep": {"task": "detection.sweep", "schedule": 60.0},
    "review.route_recent": {"task": "review.route_recent", "schedule": 5 * 60.0},
    "problems.cluster_all": {"task": "problems.cluster_all", "schedule": 5 * 60.0},
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
