"""Dataset work on the worker: long exports (the page polls their progress)."""

from __future__ import annotations

import logging

from config.celery_app import app

logger = logging.getLogger(__name__)


@app.task(name="datasets.export_version", acks_late=True, ignore_result=True)
def export_version(*, project_id: str, export_id: int) -> None:
    """Write one ``DatasetExport``'s file. Safe to run twice (a finished export is left alone)."""
    from apps.datasets.models import DatasetExport
    from apps.datasets.services.exports import export_run

    export = DatasetExport.all_tenants.select_related("dataset").filter(project_id=project_id, pk=export_id).first()  # unscoped: a task resolves its tenant by id
    if export is None:
        logger.info("datasets.export_version: export %s is gone", export_id)
        return
    export_run(export=export)
