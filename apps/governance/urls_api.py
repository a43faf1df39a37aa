"""End-user routes; the id is the rest of the path (apps.governance.end_users.api explains)."""

from django.urls import path

from apps.governance.end_users import api

_ONE = {"get": "retrieve", "delete": "destroy"}
# On an export route DELETE deletes the whole id, ``…/export`` included (``id_suffix``).
_EXPORT = {"get": "export", "delete": "destroy"}

urlpatterns = [
    path("end-users/<path:end_user_id>/export", api.EndUserExportKeyView.as_view(), name="api-end-user-export-key"),
    path("end-users/<path:end_user_id>", api.EndUserDeleteKeyView.as_view(), name="api-end-user-key"),
    path(
        "orgs/<slug:org>/projects/<uuid:project>/end-users/<path:end_user_id>/export",
        api.EndUserViewSet.as_view(_EXPORT, id_suffix="/export"), name="api-project-end-user-export",
    ),
    path(
        "orgs/<slug:org>/projects/<uuid:project>/end-users/<path:end_user_id>",
        api.EndUserViewSet.as_view(_ONE), name="api-project-end-user",
    ),
    path("orgs/<slug:org>/end-users/<path:end_user_id>/export", api.EndUserViewSet.as_view(_EXPORT, id_suffix="/export"),
         name="api-org-end-user-export"),
    path("orgs/<slug:org>/end-users/<path:end_user_id>", api.EndUserViewSet.as_view(_ONE), name="api-org-end-user"),
]
