"""Long exports on the worker: a ``DatasetExport`` row, a file written in constant memory and a
progress the page polls (``rows_done / rows_total``). Running the task twice is safe: a finished
export is left alone, a half-written one is written again from the start."""

from __future__ import annotations

import tempfile

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from apps.core.errors import ValidationFailed
from apps.datasets.models import DatasetExport, ExportState
from apps.datasets.selectors.export import FORMATS, export_filename, export_lines

PROGRESS_EVERY = 2000


def export_request(*, dataset, number: int, fmt: str, user) -> DatasetExport:
    """Queue an export of version ``number``; the worker task ``datasets.export_version`` writes it."""
    from apps.core.tasks import publish

    if fmt not in FORMATS:
        raise ValidationFailed("The format is jsonl, csv or openai.", field="format")
    version = dataset.versions.filter(number=number).first()
    export = DatasetExport.objects.create(
        project_id=dataset.project_id, dataset=dataset, version=number, format=fmt,
        rows_total=version.cases_count if version else 0, created_by=user if getattr(user, "pk", None) else None,
    )
    transaction.on_commit(lambda: publish("datasets.export_version", {"project_id": str(dataset.project_id), "export_id": export.pk}))
    return export


def export_run(*, export: DatasetExport) -> DatasetExport:
    if export.state == ExportState.DONE:
        return export
    DatasetExport.objects.for_project(export.project_id).filter(pk=export.pk).update(state=ExportState.RUNNING, rows_done=0)
    dataset = export.dataset

    def progress(done: int) -> None:
        DatasetExport.objects.for_project(export.project_id).filter(pk=export.pk).update(rows_done=done)

    try:
        with tempfile.TemporaryFile() as scratch:
            for piece in export_lines(dataset=dataset, number=export.version, fmt=export.format, on_row=progress):
                scratch.write(piece.encode("utf-8"))
            scratch.seek(0)
            export.file.save(export_filename(dataset=dataset, number=export.version, fmt=export.format), File(scratch), save=False)
    except Exception as error:  # noqa: BLE001 - recorded on the row for the page, then re-raised
        DatasetExport.objects.for_project(export.project_id).filter(pk=export.pk).update(
            state=ExportState.FAILED, error=str(error)[:500], finished_at=timezone.now(),
        )
        raise
    DatasetExport.objects.for_project(export.project_id).filter(pk=export.pk).update(
        state=ExportState.DONE, file=export.file.name, finished_at=timezone.now(),
        rows_done=export.rows_total,
    )
    export.refresh_from_db()
    return export
