"""Exports and imports in the UI.

Export: a streamed download of any version in any format, or (for long ones) an export the
worker writes to a file while the page shows its progress bar (htmx polls the progress
fragment every second) and then offers the file. Import: upload → preview with every bad row
(line, field, reason) → confirm or cancel; nothing is written before the confirmation.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.views.generic import TemplateView, View

from apps.core.audit import Actor
from apps.core.errors import ServiceError
from apps.core.roles import Role
from apps.datasets.api_keys import export_response
from apps.datasets.models import DatasetExport, DatasetImport, ExportState, ImportState
from apps.datasets.selectors import datasets as selectors
from apps.datasets.selectors.export import FORMATS, export_filename
from apps.datasets.services import imports
from apps.datasets.services.exports import export_request
from apps.datasets.views.base import DatasetViewMixin, found


class ExportDownloadView(DatasetViewMixin, View):
    """``…/datasets/<dataset>/versions/<n>/export/<format>/``: the version, streamed."""

    required_role = {"GET": Role.MEMBER}

    def get(self, request, org, project, dataset, number, fmt):
        if fmt not in FORMATS:
            raise Http404("No such export format.")
        version = found(selectors.version_get, dataset=self.dataset, number=number)
        return export_response(dataset=self.dataset, version=version.number, fmt=fmt)


class ExportCreateView(DatasetViewMixin, View):
    """``POST …/datasets/<dataset>/exports/``: queue a file export on the worker."""

    required_role = {"POST": Role.MEMBER}

    def post(self, request, org, project, dataset):
        version = found(selectors.version_get, dataset=self.dataset, number=request.POST.get("version", ""))
        fmt = request.POST.get("format", "jsonl")
        try:
            export = export_request(dataset=self.dataset, number=version.number, fmt=fmt, user=request.user)
        except ServiceError as error:
            messages.error(request, error.message)
            return redirect("dataset_detail", org=org, project=project, dataset=dataset)
        return redirect("dataset_export", org=org, project=project, dataset=dataset, export=export.pk)


class _ExportMixin(DatasetViewMixin):
    required_role = {"GET": Role.MEMBER}

    def resolve_tenant(self, request, **kwargs) -> None:
        super().resolve_tenant(request, **kwargs)
        self.export = DatasetExport.objects.for_project(self.project).filter(dataset=self.dataset, pk=kwargs["export"]).first()
        if self.export is None:
            raise Http404("No such export.")


class ExportProgressView(_ExportMixin, TemplateView):
    """``…/exports/<export>/``: the progress bar (``?fragment=1``: only the bar, for the poll)."""

    def get_template_names(self):
        if self.request.GET.get("fragment"):
            return ["datasets/_export_progress.html"]
        return ["datasets/export_progress.html"]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        export = self.export
        percent = 100 if export.state == ExportState.DONE else (
            int(100 * export.rows_done / export.rows_total) if export.rows_total else 0)
        context.update(export=export, percent=percent, finished=export.state in (ExportState.DONE, ExportState.FAILED))
        return context


class ExportFileView(_ExportMixin, View):
    """``…/exports/<export>/file/``: the finished file."""

    def get(self, request, org, project, dataset, export):
        if self.export.state != ExportState.DONE or not self.export.file:
            raise Http404("This export is not finished.")
        name = export_filename(dataset=self.dataset, number=self.export.version, fmt=self.export.format)
        return FileResponse(self.export.file.open("rb"), as_attachment=True, filename=name,
                            content_type=FORMATS[self.export.format])


class ImportUploadView(DatasetViewMixin, TemplateView):
    """``…/datasets/<dataset>/import/``: upload a JSONL or CSV file (up to 100 MB) for a preview."""

    template_name = "datasets/import_upload.html"
    required_role = {"GET": Role.REVIEWER, "POST": Role.REVIEWER}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["max_mb"] = imports.MAX_BYTES // (1024 * 1024)
        return context

    def post(self, request, org, project, dataset):
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        try:
            if length > imports.MAX_BYTES + 1024 * 1024:
                raise imports.ImportRefused(f"The file is larger than the {imports.MAX_BYTES // (1024 * 1024)} MB limit; nothing was imported.", field="file")
            record = imports.import_preview(
                dataset=self.dataset, upload=request.FILES.get("file"), fmt=request.POST.get("format") or None,
                actor=Actor.from_request(request),
            )
        except ServiceError as error:
            return self.render_to_response(self.get_context_data(error=error.message), status=error.status)
        return redirect("dataset_import", org=org, project=project, dataset=dataset, record=record.pk)


class ImportPreviewView(DatasetViewMixin, TemplateView):
    """``…/imports/<record>/``: what the file holds and every bad row; confirm or cancel (POST)."""

    template_name = "datasets/import_preview.html"
    required_role = {"GET": Role.REVIEWER, "POST": Role.REVIEWER}

    def resolve_tenant(self, request, **kwargs) -> None:
        super().resolve_tenant(request, **kwargs)
        self.record = DatasetImport.objects.for_project(self.project).filter(dataset=self.dataset, pk=kwargs["record"]).first()
        if self.record is None:
            raise Http404("No such import.")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(record=self.record, open=self.record.state == ImportState.PREVIEW,
                       more_errors=self.record.errors_count - len(self.record.errors))
        return context

    def post(self, request, org, project, dataset, record):
        try:
            if request.POST.get("action") == "cancel":
                imports.import_cancel(record=self.record)
                messages.info(request, "Import cancelled; nothing was written.")
                return redirect("dataset_detail", org=org, project=project, dataset=dataset)
            result = imports.import_confirm(record=self.record, actor=Actor.from_request(request),
                                            message=request.POST.get("message", ""), split=request.POST.get("split", ""))
        except ServiceError as error:
            self.record.refresh_from_db()
            return self.render_to_response(self.get_context_data(error=error.message), status=error.status)
        messages.success(request, f"Imported {result.added} case(s) as version {result.number}.")
        return redirect("dataset_detail", org=org, project=project, dataset=dataset)

