"""End-user data rights over the API: counts, the streamed export, and the deletion.

Key routes (``/api/v1/end-users/{id}[/export]``, the project key names the project) and session
or organization-token routes for admins, per project (``/orgs/{org}/projects/{project}/end-users/…``)
or across every project of the organization (``/orgs/{org}/end-users/…``). The id is the rest of
the path (a ``path`` converter, greedy): url-encode it; it may hold any character, slashes
included, and ``{id}/export`` is always the export of ``{id}``. An id that itself ends in
``/export`` lands on the export route for DELETE too, which therefore deletes the whole id; the
one thing such an id cannot have is the session routes' GET of its counts (that reads as the
export of the shorter id).
"""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from apps.core.audit import Actor
from apps.core.roles import Role
from apps.governance.end_users import selectors, services
from apps.organizations.models import TokenScope
from apps.organizations.tenancy import OrganizationScopedViewSet
from apps.projects.selectors import project_get_visible, project_list_visible
from apps.traces.api import IngestView

TAG = ["end users"]
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}, "description": "Rows by kind"}
COUNTS_OUT = {
    "type": "object",
    "required": ["end_user_id", "counts", "projects"],
    "properties": {
        "end_user_id": {"type": "string"},
        "counts": _COUNTS,
        "projects": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "counts": _COUNTS,
        }}},
    },
}
DELETED_OUT = {
    "type": "object",
    "required": ["deleted", "projects"],
    "properties": {
        "deleted": _COUNTS,
        "projects": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "deleted": _COUNTS,
        }}},
    },
}
EXPORT_RESPONSES = {
    (200, "application/json"): OpenApiResponse(response={"type": "object"}, description="The export document, streamed"),
    404: OpenApiResponse(description="`not_found`: nothing is stored for this id"),
}
NOT_FOUND = OpenApiResponse(description="`not_found`: nothing is stored for this id")


def counts_out(end_user_id: str, held: dict) -> dict:
    totals = {kind: sum(counts[kind] for counts in held.values()) for kind in selectors.KINDS}
    return {
        "end_user_id": end_user_id,
        "counts": totals,
        "projects": [{"id": str(project.pk), "name": project.name, "counts": counts} for project, counts in held.items()],
    }


def export_response(*, organization, projects, end_user_id: str, actor: Actor) -> StreamingHttpResponse:
    """404 when nothing is held; else the audit row, then the document streamed."""
    end_user_id = selectors.end_user_id_clean(end_user_id)
    selectors.end_user_counts_or_404(projects=projects, end_user_id=end_user_id)
    services.end_user_export_record(organization=organization, projects=projects, end_user_id=end_user_id, actor=actor)
    response = StreamingHttpResponse(
        selectors.end_user_export(projects=projects, end_user_id=end_user_id), content_type="application/json",
    )
    response["Content-Disposition"] = 'attachment; filename="end-user-export.json"'
    return response


def delete_response(*, organization, projects, end_user_id: str, actor: Actor) -> Response:
    end_user_id = selectors.end_user_id_clean(end_user_id)
    result = services.end_user_delete(organization=organization, projects=projects, end_user_id=end_user_id, actor=actor)
    return Response(result)


def resolve_end_user(view, request) -> None:
    """``view.end_user_id`` and ``view.held`` (counts by project) from the URL, or 404/400: the
    id of an export route's DELETE includes its ``/export``."""
    raw = view.kwargs["end_user_id"] + (view.id_suffix if request.method == "DELETE" else "")
    view.end_user_id = selectors.end_user_id_clean(raw)
    _, projects = view.scope()
    view.held = selectors.end_user_counts_or_404(projects=projects, end_user_id=view.end_user_id)


# --- key routes ---------------------------------------------------------------------------------


class EndUserKeyView(IngestView):
    rate_limit_bucket = "end-users"
    id_suffix = ""

    def initial(self, request, *args, **kwargs):
        """The end user the URL names is resolved before the method is checked (404 before 405)."""
        super().initial(request, *args, **kwargs)
        resolve_end_user(self, request)

    def actor(self, request) -> Actor:
        return Actor(user=None, ip_address=Actor.from_request(request).ip_address, via=f"api_key:{request.auth.key_id}")

    def scope(self):
        return self.project.organization, [self.project]


class EndUserDeleteKeyView(EndUserKeyView):
    @extend_schema(operation_id="end_users_delete", tags=TAG, responses={200: DELETED_OUT, 404: NOT_FOUND})
    def delete(self, request, end_user_id):
        """Delete everything stored for this end user in the key's project (counts per kind)."""
        organization, projects = self.scope()
        return delete_response(organization=organization, projects=projects, end_user_id=self.end_user_id, actor=self.actor(request))


class EndUserExportKeyView(EndUserKeyView):
    id_suffix = "/export"
    @extend_schema(operation_id="end_users_export", tags=TAG, responses=EXPORT_RESPONSES)
    def get(self, request, end_user_id):
        """Everything stored for this end user in the key's project, as one JSON document (streamed)."""
        organization, projects = self.scope()
        return export_response(organization=organization, projects=projects, end_user_id=self.end_user_id, actor=self.actor(request))

    @extend_schema(operation_id="end_users_delete_export_suffixed", tags=TAG, responses={200: DELETED_OUT, 404: NOT_FOUND})
    def delete(self, request, end_user_id):
        """Delete the end user whose id is ``{end_user_id}/export`` (an id may end in ``/export``)."""
        organization, projects = self.scope()
        return delete_response(organization=organization, projects=projects, end_user_id=self.end_user_id,
                               actor=self.actor(request))


# --- session and organization-token routes (admins) ---------------------------------------------


class EndUserViewSet(OrganizationScopedViewSet):
    """Per project when the URL names one, else every project of the organization."""

    required_role = {"retrieve": Role.ADMIN, "destroy": Role.ADMIN, "export": Role.ADMIN}
    token_scope = {"retrieve": TokenScope.ADMIN, "destroy": TokenScope.ADMIN, "export": TokenScope.ADMIN}
    id_suffix = ""  # "/export" on the export routes: their DELETE deletes the whole id

    def resolve_tenant(self, request) -> None:
        super().resolve_tenant(request)
        if "project" in self.kwargs:
            self.projects = [project_get_visible(
                organization=self.organization, membership=self.membership, project_id=self.kwargs["project"]
            )]
        else:
            self.projects = list(project_list_visible(organization=self.organization, membership=self.membership))
        resolve_end_user(self, request)

    def scope(self):
        return self.organization, self.projects

    @extend_schema(tags=TAG, responses={200: COUNTS_OUT, 404: NOT_FOUND})
    def retrieve(self, request, *args, end_user_id, **kwargs):
        """How many rows are stored for this end user, by kind and project."""
        return Response(counts_out(self.end_user_id, self.held))

    @extend_schema(tags=TAG, responses={200: DELETED_OUT, 404: NOT_FOUND})
    def destroy(self, request, *args, end_user_id, **kwargs):
        """Delete everything stored for this end user (counts per kind; audited)."""
        return delete_response(organization=self.organization, projects=self.projects, end_user_id=self.end_user_id,
                               actor=Actor.from_request(request))

    @extend_schema(tags=TAG, responses=EXPORT_RESPONSES)
    def export(self, request, *args, end_user_id, **kwargs):
        """Everything stored for this end user as one JSON document (streamed; audited)."""
        return export_response(organization=self.organization, projects=self.projects, end_user_id=self.end_user_id,
                               actor=Actor.from_request(request))
