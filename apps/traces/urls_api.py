from django.urls import path

from apps.traces import api, api_otlp

urlpatterns = [
    path("turns", api.TurnCreateView.as_view(), name="api-turn-create"),
    path("turns/<str:turn>", api.TurnDetailView.as_view(), name="api-turn-detail"),
    path("ingest", api.BatchIngestView.as_view(), name="api-ingest"),
    path("feedback", api.FeedbackCreateView.as_view(), name="api-feedback-create"),
    path("otlp/v1/traces", api_otlp.OtlpTracesView.as_view(), name="api-otlp-traces"),
]
