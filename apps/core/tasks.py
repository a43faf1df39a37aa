"""Core periodic jobs, and ``publish``: how request paths send a task without waiting on the broker."""

from __future__ import annotations

import logging
import time

from apps.core.redis import Breaker
from config.celery_app import app

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "agentloop:worker-heartbeat"

# The broker's breaker for this process; /healthz shows it.
BROKER = Breaker()


def publish(name: str, kwargs: dict, *, via=None, countdown: float | None = None) -> bool:
    """Send the task named ``name`` with keyword arguments ``kwargs``; returns whether the broker took it.

    By name (``send_task``), so a lower floor starts work on a higher one without importing it.
    A 2xx never waits on the broker: a publish gives up after the broker transport's socket
    timeouts (settings ``CELERY_BROKER_TRANSPORT_OPTIONS``, no retries), and after a failure
    every publish in this process is skipped for ``BROKER.pause_seconds``. A failed or skipped
    publish is counted and logged, never raised: each caller names the periodic job that does
    the work instead (detection's sweep, the beat's clustering and routing runs). ``via`` is
    another Celery app (tests point one at a frozen or dead broker); ``countdown`` delays the run
    by that many seconds.
    """
    if not BROKER.allows():
        logger.info("broker paused after a failure; %s not sent", name)
        return False
    try:
        (via or app).send_task(name, kwargs=kwargs, retry=False, countdown=countdown)
    except Exception as error:  # noqa: BLE001 - any broker failure; the caller's sweep is the fallback
        BROKER.fail(error)
        logger.warning("broker unavailable; %s not sent (paused %ss)", name, BROKER.pause_seconds, exc_info=True)
        return False
    return True


@app.task(name="core.heartbeat", acks_late=True, ignore_result=True)
def heartbeat() -> None:
    """Beat enqueues it, a worker runs it: /healthz shows when that last happened. Idempotent."""
    from apps.core.redis import redis_client

    redis_client().set(HEARTBEAT_KEY, str(time.time()), ex=3600)


def heartbeat_age_seconds() -> float | None:
    from apps.core.redis import redis_client

    value = redis_client().get(HEARTBEAT_KEY)
    return round(time.time() - float(value), 1) if value else None
