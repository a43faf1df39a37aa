from django.urls import path

from apps.governance import retention_views, views

urlpatterns = [
    path("orgs/<slug:org>/audit/", views.AuditLogView.as_view(), name="audit_log"),
    path("orgs/<slug:org>/retention/", retention_views.RetentionView.as_view(), name="retention"),
]
