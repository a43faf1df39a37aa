from django.urls import path

from apps.datasets.views import cases, datasets, transfer

prefix = "orgs/<slug:org>/projects/<uuid:project>/datasets"
one = f"{prefix}/<int:dataset>"
urlpatterns = [
    path(f"{prefix}/", datasets.DatasetListView.as_view(), name="dataset_list"),
    path(f"{prefix}/add/", cases.AddTurnsView.as_view(), name="dataset_add_turns"),
    path(f"{one}/", datasets.DatasetDetailView.as_view(), name="dataset_detail"),
    path(f"{one}/settings/", datasets.DatasetSettingsView.as_view(), name="dataset_settings"),
    path(f"{one}/auto-add/", datasets.DatasetAutoAddView.as_view(), name="dataset_auto_add"),
    path(f"{one}/cases/change/", datasets.DatasetCasesChangeView.as_view(), name="dataset_cases_change"),
    path(f"{one}/cases/new/", cases.CaseCreateView.as_view(), name="dataset_case_new"),
    path(f"{one}/cases/<uuid:case>/", cases.CaseDetailView.as_view(), name="dataset_case"),
    path(f"{one}/versions/", datasets.VersionListView.as_view(), name="dataset_versions"),
    path(f"{one}/diff/", datasets.VersionDiffView.as_view(), name="dataset_diff"),
    path(f"{one}/versions/<int:number>/export/<str:fmt>/", transfer.ExportDownloadView.as_view(), name="dataset_export_download"),
    path(f"{one}/exports/", transfer.ExportCreateView.as_view(), name="dataset_export_create"),
    path(f"{one}/exports/<int:export>/", transfer.ExportProgressView.as_view(), name="dataset_export"),
    path(f"{one}/exports/<int:export>/file/", transfer.ExportFileView.as_view(), name="dataset_export_file"),
    path(f"{one}/import/", transfer.ImportUploadView.as_view(), name="dataset_import_upload"),
    path(f"{one}/imports/<int:record>/", transfer.ImportPreviewView.as_view(), name="dataset_import"),
]
