from __future__ import annotations

import logging

from config.celery_app import app

logger = logging.getLogger(__name__)


@app.task(name="governance.expire", acks_late=True, ignore_result=True)
def expire() -> None:
    """Delete every project's due, not-held turns (apps.governance.expiry); resumable and safe to
    run twice: each batch commits whole, and what is gone is not found again."""
    from apps.governance.expiry import project_expire
    from apps.projects.models import Project

    for project in Project.all_tenants.select_related("organization").order_by("pk").iterator():  # unscoped: the job sweeps every project
        counts = project_expire(project=project)
        if counts:
            logger.info("expired turns of project %s: %s", project.pk, dict(counts))
