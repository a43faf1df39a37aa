"""Tenancy base classes: one way into tenant data, and it fails closed if skipped.

``Model.objects`` refuses to evaluate a query that was not scoped with
``for_org(organization)`` or ``for_project(project)``. Reverse relations from an already
loaded parent (``project.api_keys.all()``) are scoped by that parent. ``all_tenants`` is
the escape hatch for admin, migrations, management commands and tests; anywhere else it
carries ``# unscoped: <reason>`` on the same line (tests/test_architecture.py checks).
"""

from __future__ import annotations

from django.db import models
from django.db.models import sql


class UnscopedQueryError(RuntimeError):
    """A tenant-owned model was queried without for_org()/for_project()."""


def _unscoped_error(model) -> UnscopedQueryError:
    return UnscopedQueryError(
        f"{model.__name__}.objects must be scoped with for_org()/for_project(); "
        "use all_tenants with an '# unscoped: <reason>' comment where that is intended"
    )


class TenantQuery(sql.Query):
    """The query behind a tenant queryset; it carries the scope so composition checks it too.

    A queryset used inside another one (``filter(x__in=qs)``, ``Exists(qs)``, ``Subquery(qs)``,
    ``qs.values(...)`` with ``OuterRef``) is never evaluated on its own: Django resolves its query
    as an expression of the outer query instead. ``resolve_expression`` is that door, so an
    unscoped inner query raises there, exactly as an evaluated one does. The flag lives in the
    query's ``__dict__``, which every ``clone()``/``chain()`` copies.
    """

    tenant_scoped = False

    def resolve_expression(self, query, *args, **kwargs):
        if not self.tenant_scoped:
            raise _unscoped_error(self.model)
        return super().resolve_expression(query, *args, **kwargs)


class TenantQuerySet(models.QuerySet):
    def __init__(self, model=None, query=None, using=None, hints=None):
        super().__init__(model=model, query=query if query is not None else TenantQuery(model), using=using, hints=hints)

    @property
    def _tenant_scoped(self) -> bool:
        return getattr(self.query, "tenant_scoped", False)

    def _scoped(self) -> TenantQuerySet:
        clone = self._chain()
        clone.query.tenant_scoped = True
        return clone

    def _combined_scope(self, others, combined) -> TenantQuerySet:
        """``a | b``, ``a & b``, ``a ^ b`` and ``union()`` are scoped only if every tenant part is
        (a plain queryset, such as ``all_tenants``, is the explicit escape hatch)."""
        combined = combined._chain()  # Django may hand back one operand itself; never mutate it
        combined.query.tenant_scoped = self._tenant_scoped and all(getattr(other, "_tenant_scoped", True) for other in others)
        return combined

    def __or__(self, other):
        return self._combined_scope([other], super().__or__(other))

    def __and__(self, other):
        return self._combined_scope([other], super().__and__(other))

    def __xor__(self, other):
        return self._combined_scope([other], super().__xor__(other))

    def _combinator_query(self, combinator, *other_qs, all=False):  # noqa: A002 - Django's signature
        return self._combined_scope(other_qs, super()._combinator_query(combinator, *other_qs, all=all))

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
            raise _unscoped_error(self.model)

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
