from django.urls import path

from apps.detection import views

prefix = "orgs/<slug:org>/projects/<uuid:project>"
urlpatterns = [
    path(f"{prefix}/detectors/", views.DetectorSettingsView.as_view(), name="detector_settings"),
]
