"""Tenancy base classes: one way into tenant data, and it fails closed if skipped.

``Model.objects`` refuses to evaluate a query that was not scoped with
``for_org(organization)`` or ``for_project(project)``. Reverse relations from an already
loaded parent (``project.api_keys.all()``) are scoped by that parent. ``all_tenants`` is
the escape hatch for admin, migrations, management commands and tests; anywhere else it
carries ``# unscoped: <reason>`` on the same line (tests/test_architecture.py checks).
"""

from __future__ import annotations

from django.db import models


class UnscopedQueryError(RuntimeError):
    """A tenant-owned model was queried without for_org()/for_project()."""


class TenantQuerySet(models.QuerySet):
    _tenant_scoped = False

    def _clone(self):
        clone = super()._clone()
        clone._tenant_scoped = self._tenant_scoped
        return clone

    def _scoped(self) -> TenantQuerySet:
        clone = self._chain()
        clone._tenant_scoped = True
        return clone

    def for_org(self, organization) -> TenantQuerySet:
        if organization is None:
            raise UnscopedQueryError(f"{self.model.__name__}.for_org(None)")
        return self.filter(organization=organization)._scoped()

    def for_project(self, project) -> TenantQuerySet:
        if project is None:
            raise UnscopedQueryError(f"{self.model.__name__}.for_project(None)")
        if not hasattr(self.model, "project_id"):
            raise UnscopedQueryError(f"{self.model.__name__} is not project-owned")
        return self.filter(project=project)._scoped()

    def _require_scope(self) -> None:
        if not self._tenant_scoped:
            raise UnscopedQueryError(
                f"{self.model.__name__}.objects must be scoped with for_org()/for_project(); "
                "use all_tenants with an '# unscoped: <reason>' comment where that is intended"
            )

    def _fetch_all(self):
        if self._result_cache is None:
            self._require_scope()
        super()._fetch_all()

    def iterator(self, *args, **kwargs):
        self._require_scope()
        return super().iterator(*args, **kwargs)

    def count(self):
        self._require_scope()
        return super().count()

    def exists(self):
        self._require_scope()
        return super().exists()

    def aggregate(self, *args, **kwargs):
        self._require_scope()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs):
        self._require_scope()
        return super().update(**kwargs)

    def delete(self):
        self._require_scope()
        return super().delete()

    def explain(self, **kwargs):
        self._require_scope()
        return super().explain(**kwargs)


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    def get_queryset(self):
        queryset = super().get_queryset()
        # Django's related managers (parent.children) set core_filters: already scoped by parent.
        if getattr(self, "core_filters", None):
            queryset = queryset._scoped()
        return queryset


class OrganizationOwnedModel(models.Model):
    """A row that belongs to one organization."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.CASCADE)

    objects = TenantManager()
    all_tenants = models.Manager()

    class Meta:
        abstract = True
        base_manager_name = "all_tenants"


class ProjectOwnedModel(models.Model):
    """A row that belongs to one project; ``project`` is never null, even under a parent."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE)

    objects = TenantManager()
    all_tenants = models.Manager()

    class Meta:
        abstract = True
        base_manager_name = "all_tenants"
