from django.urls import path

from apps.governance import views

urlpatterns = [
    path("orgs/<slug:org>/audit/", views.AuditLogView.as_view(), name="audit_log"),
]
