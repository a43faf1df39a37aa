"""Retention over the API (admins): the organization's retention and rejected-turn clock, each
project's override, and the preview of what the next expire run deletes — the same services and
the same preview as the retention page. ``?retention_days=`` / ``?rejected_days=`` (organization)
and ``?days=`` (project) preview a change before it is made."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from apps.core.audit import Actor
from apps.core.roles import Role
from apps.governance.expiry import expiry_preview, organization_preview, rejected_days_for
from apps.governance.models import ProjectRetention
from apps.governance.services import project_retention_set, rejected_retention_set
from apps.organizations.models import RETENTION_DAYS_MAX, RETENTION_DAYS_MIN
from apps.organizations.services import organization_update
from apps.organizations.tenancy import OrganizationScopedViewSet
from apps.projects.tenancy import ProjectScopedViewSet

TAG = ["retention"]


def _days(**kwargs):
    """A whole number of days in the range the schema states (``min_value`` / ``max_value`` as on
    ``PATCH /api/v1/orgs/{org}``)."""
    return serializers.IntegerField(min_value=RETENTION_DAYS_MIN, max_value=RETENTION_DAYS_MAX, **kwargs)


_DAYS_SCHEMA = {"type": "integer", "minimum": RETENTION_DAYS_MIN, "maximum": RETENTION_DAYS_MAX}


class OrganizationRetentionIn(serializers.Serializer):
    retention_days = _days(required=False, help_text="Unreviewed turns are deleted this many days after they happened")
    rejected_days = _days(required=False, help_text="Rejected turns are deleted this many days after the decision")


class ProjectRetentionIn(serializers.Serializer):
    days = _days(allow_null=True, help_text="This project's retention; null follows the organization's")


class ProjectPreviewOut(serializers.Serializer):
    id = serializers.UUIDField(source="project.pk")
    name = serializers.CharField(source="project.name")
    days = serializers.IntegerField(source="retention.days", help_text="The retention in force (or previewed)")
    source = serializers.CharField(source="retention.source", help_text="`project`, `organization` or `proposed`")
    rejected_days = serializers.IntegerField(source="retention.rejected_days")
    deletes = serializers.IntegerField(help_text="Turns past the retention the next run deletes")
    rejected = serializers.IntegerField(help_text="Rejected turns past the rejected clock the next run deletes")
    held = serializers.IntegerField(help_text="Turns past the retention that stay: in a queue, confirmed or in an open problem")


class OrganizationRetentionOut(serializers.Serializer):
    retention_days = serializers.IntegerField()
    rejected_days = serializers.IntegerField()
    projects = ProjectPreviewOut(many=True)


class ProjectRetentionOut(ProjectPreviewOut):
    override_days = serializers.IntegerField(allow_null=True, help_text="The project's own retention; null: the organization's")


def _query_days(request, name: str) -> int | None:
    """A previewed value from the query string, checked like a saved one (400, the field named)."""
    if name not in request.query_params:
        return None
    try:
        return _days().run_validation(request.query_params[name])
    except serializers.ValidationError as error:
        raise serializers.ValidationError({name: error.detail}) from None


class OrganizationRetentionViewSet(OrganizationScopedViewSet):
    required_role = {"retrieve": Role.ADMIN, "partial_update": Role.ADMIN}

    def _out(self, *, retention_days=None, rejected_days=None) -> dict:
        organization = self.organization
        previews = organization_preview(organization=organization, retention_days=retention_days, rejected_days=rejected_days)
        return {
            "retention_days": retention_days or organization.retention_days,
            "rejected_days": rejected_days or rejected_days_for(organization=organization),
            "projects": ProjectPreviewOut(previews, many=True).data,
        }

    @extend_schema(tags=TAG, responses=OrganizationRetentionOut, parameters=[
        OpenApiParameter("retention_days", _DAYS_SCHEMA, description="Preview this organization retention (not saved)"),
        OpenApiParameter("rejected_days", _DAYS_SCHEMA, description="Preview this rejected-turn retention (not saved)"),
    ])
    def retrieve(self, request, org=None):
        """The retentions in force and, per project, what the next expire run deletes and what stays held."""
        return Response(self._out(retention_days=_query_days(request, "retention_days"),
                                  rejected_days=_query_days(request, "rejected_days")))

    @extend_schema(tags=TAG, request=OrganizationRetentionIn, responses=OrganizationRetentionOut)
    def partial_update(self, request, org=None):
        """Change the organization retention and/or the rejected-turn retention (each change audited)."""
        data = OrganizationRetentionIn(data=request.data)
        data.is_valid(raise_exception=True)
        actor = Actor.from_request(request)
        if "retention_days" in data.validated_data:
            self.organization = organization_update(organization=self.organization, actor=actor,
                                                    retention_days=data.validated_data["retention_days"])
        if "rejected_days" in data.validated_data:
            rejected_retention_set(organization=self.organization, actor=actor, days=data.validated_data["rejected_days"])
        return Response(self._out())


class ProjectRetentionViewSet(ProjectScopedViewSet):
    required_role = {"retrieve": Role.ADMIN, "update": Role.ADMIN}

    def _out(self, *, days=None) -> dict:
        preview = expiry_preview(project=self.project, days=days)
        override = ProjectRetention.objects.for_project(self.project).values_list("days", flat=True).first()
        return {**ProjectPreviewOut(preview).data, "override_days": override}

    @extend_schema(tags=TAG, responses=ProjectRetentionOut, parameters=[
        OpenApiParameter("days", _DAYS_SCHEMA, description="Preview this project retention (not saved)"),
    ])
    def retrieve(self, request, org=None, project=None):
        """The project's retention, where it comes from, and what the next expire run deletes."""
        return Response(self._out(days=_query_days(request, "days")))

    @extend_schema(tags=TAG, request=ProjectRetentionIn, responses=ProjectRetentionOut)
    def update(self, request, org=None, project=None):
        """Set the project's own retention, or ``null`` to follow the organization's (audited)."""
        data = ProjectRetentionIn(data=request.data)
        data.is_valid(raise_exception=True)
        project_retention_set(project=self.project, actor=Actor.from_request(request), days=data.validated_data["days"])
        return Response(self._out())
