"""Core periodic jobs."""

from __future__ import annotations

import time

from config.celery_app import app

HEARTBEAT_KEY = "agentloop:worker-heartbeat"


@app.task(name="core.heartbeat", acks_late=True, ignore_result=True)
def heartbeat() -> None:
    """Beat enqueues it, a worker runs it: /healthz shows when that last happened. Idempotent."""
    from apps.core.redis import redis_client

    redis_client().set(HEARTBEAT_KEY, str(time.time()), ex=3600)


def heartbeat_age_seconds() -> float | None:
    from apps.core.redis import redis_client

    value = redis_client().get(HEARTBEAT_KEY)
    return round(time.time() - float(value), 1) if value else None
