from django.urls import path

from apps.traces import api

urlpatterns = [
    path("turns", api.TurnCreateView.as_view(), name="api-turn-create"),
    path("turns/<str:turn_id>", api.TurnDetailView.as_view(), name="api-turn-detail"),
    path("ingest", api.BatchIngestView.as_view(), name="api-ingest"),
    path("feedback", api.FeedbackCreateView.as_view(), name="api-feedback-create"),
]
