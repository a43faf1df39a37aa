"""The project-resolving bases: ``<project>`` from the URL through the visibility selector
(a project the caller may not see is the same 404 as a missing one)."""

from __future__ import annotations

from apps.organizations.tenancy import OrganizationScopedViewSet, OrganizationViewMixin
from apps.projects.selectors import project_get_visible


class ProjectScopedViewSet(OrganizationScopedViewSet):
    """Adds ``<project>`` from the URL, resolved through the visibility selector (404 if hidden)."""

    def resolve_tenant(self, request) -> None:
        super().resolve_tenant(request)
        self.project = project_get_visible(
            organization=self.organization, membership=self.membership, project_id=self.kwargs["project"]
        )

    def base_queryset(self):
        return self.model.objects.for_project(self.project)


class ProjectViewMixin(OrganizationViewMixin):
    def resolve_tenant(self, request, **kwargs) -> None:
        super().resolve_tenant(request, **kwargs)
        self.project = project_get_visible(
            organization=self.organization, membership=self.membership, project_id=kwargs["project"]
        )
