from django.urls import path

from apps.governance import retention_views, views
from apps.governance.end_users import views as end_user_views

urlpatterns = [
    path("orgs/<slug:org>/audit/", views.AuditLogView.as_view(), name="audit_log"),
    path("orgs/<slug:org>/retention/", retention_views.RetentionView.as_view(), name="retention"),
    path("orgs/<slug:org>/projects/<uuid:project>/end-users/", end_user_views.EndUserView.as_view(), name="end_users"),
    path("orgs/<slug:org>/end-users/", end_user_views.OrganizationEndUserView.as_view(), name="organization_end_users"),
]
