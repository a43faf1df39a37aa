from django.urls import path

from apps.projects import views

prefix = "orgs/<slug:org>/projects/<uuid:project>"
urlpatterns = [
    path("orgs/<slug:org>/", views.OrganizationDetailView.as_view(), name="organization_detail"),
    path("orgs/<slug:org>/projects/new/", views.ProjectCreateView.as_view(), name="project_create"),
    path(f"{prefix}/", views.ProjectDetailView.as_view(), name="project_detail"),
    path(f"{prefix}/settings/", views.ProjectSettingsView.as_view(), name="project_settings"),
    path(f"{prefix}/delete/", views.ProjectDeleteView.as_view(), name="project_delete"),
    path(f"{prefix}/redaction/", views.RedactionSettingsView.as_view(), name="project_redaction"),
    path(f"{prefix}/access/", views.ProjectAccessView.as_view(), name="project_access"),
    path(f"{prefix}/keys/", views.ApiKeyListView.as_view(), name="project_keys"),
    path(f"{prefix}/keys/<str:key_id>/revoke/", views.ApiKeyRevokeView.as_view(), name="api_key_revoke"),
]
