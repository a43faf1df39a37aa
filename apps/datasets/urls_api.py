from django.urls import path

from apps.datasets import api_keys

urlpatterns = [
    path("datasets", api_keys.DatasetListView.as_view(), name="api-dataset-list-key"),
    path("datasets/<str:name>", api_keys.DatasetDetailView.as_view(), name="api-dataset-detail-key"),
    path("datasets/<str:name>/cases", api_keys.DatasetCasesView.as_view(), name="api-dataset-cases-key"),
    path("datasets/<str:name>/versions/<str:number>/cases", api_keys.VersionCasesView.as_view(), name="api-dataset-version-cases-key"),
    path("datasets/<str:name>/versions/<str:number>/export", api_keys.VersionExportView.as_view(), name="api-dataset-version-export-key"),
    path("datasets/<str:name>/diff", api_keys.DatasetDiffView.as_view(), name="api-dataset-diff-key"),
]
