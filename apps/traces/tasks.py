from __future__ import annotations

import logging

from config.celery_app import app

logger = logging.getLogger(__name__)


@app.task(name="traces.expire_waiting", acks_late=True, ignore_result=True)
def expire_waiting() -> None:
    """Delete feedback/signals/steps whose turn never arrived within the retention period, and
    clear the stale "waiting" flags of children whose turn did arrive."""
    from apps.traces.services.expiry import waiting_expire, waiting_flags_clear

    deleted = waiting_expire()
    if any(deleted.values()):
        logger.info("expired waiting items: %s", deleted)
    cleared = waiting_flags_clear()
    if any(cleared.values()):
        logger.info("cleared stale waiting flags: %s", cleared)
