"""Rules that matter, enforced by tests rather than memory (STYLE.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.urls import URLPattern, URLResolver, get_resolver

from apps.organizations.tenancy import OrganizationScopedViewSet
from apps.core.models import OrganizationOwnedModel, ProjectOwnedModel, UnscopedQueryError
from apps.organizations.tenancy import OrganizationViewMixin
from apps.projects.models import ApiKey, Project
from tests.factories.projects import ApiKeyFactory

ROOT = Path(__file__).resolve().parent.parent
# Places where cross-tenant access is the point; anywhere else needs "# unscoped: <reason>".
ALLOWED_UNSCOPED = ("/migrations/", "/management/commands/", "/admin.py", "apps/core/models.py")
UNSCOPED_USE = re.compile(r"\.all_tenants\b")
RAW_SQL = re.compile(r"\.(raw|extra)\(|cursor\(\)")


def _app_sources():
    for path in sorted((ROOT / "apps").rglob("*.py")):
        yield path, path.relative_to(ROOT).as_posix()


def test_every_unscoped_query_is_allowed_or_explained():
    offenders = []
    for path, relative in _app_sources():
        if any(part in f"/{relative}" for part in ALLOWED_UNSCOPED):
            continue
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines, 1):
            # A reason may sit on the line or, for a wrapped expression, on the statement's lines.
            window = " ".join(lines[max(0, number - 1): number + 2])
            if UNSCOPED_USE.search(line) and "# unscoped:" not in window:
                offenders.append(f"{relative}:{number}: {line.strip()}")

    assert offenders == []


def test_raw_sql_stays_out_of_views_and_apis():
    offenders = [
        relative
        for path, relative in _app_sources()
        if relative.endswith(("views.py", "api.py")) and RAW_SQL.search(path.read_text())
        and not relative.startswith("apps/core/")
    ]

    assert offenders == []


def test_tenant_models_are_fail_closed():
    tenant_models = [
        model for model in django_apps.get_models()
        if issubclass(model, (OrganizationOwnedModel, ProjectOwnedModel))
    ]

    assert {model.__name__ for model in tenant_models} >= {"Membership", "Invitation", "Project", "ApiKey", "AuditEvent"}
    for model in tenant_models:
        with pytest.raises(UnscopedQueryError):
            list(model.objects.all())
        with pytest.raises(UnscopedQueryError):
            model.objects.filter(pk__isnull=False).exists()


@pytest.mark.django_db
def test_unscoped_queries_raise_and_scoped_ones_work(project, other_project):
    key = ApiKeyFactory(project=project)
    ApiKeyFactory(project=other_project)

    with pytest.raises(UnscopedQueryError):
        ApiKey.objects.count()
    with pytest.raises(UnscopedQueryError):
        ApiKey.objects.filter(name=key.name).update(name="x")
    with pytest.raises(UnscopedQueryError):
        ApiKey.objects.get(pk=key.pk)
    with pytest.raises(UnscopedQueryError):
        Project.objects.for_org(None)

    assert list(ApiKey.objects.for_project(project)) == [key]
    assert list(project.apikey_set.all()) == [key]
    assert list(Project.objects.for_org(project.organization)) == [project]


def _routes(patterns):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns)
        elif isinstance(entry, URLPattern):
            yield entry


def test_every_viewset_action_has_a_required_role():
    missing = []
    for entry in _routes(get_resolver().url_patterns):
        viewset = getattr(entry.callback, "cls", None)
        actions = getattr(entry.callback, "actions", None) or {}
        if viewset and issubclass(viewset, OrganizationScopedViewSet):
            missing += [f"{viewset.__name__}.{action}" for action in actions.values() if action not in viewset.required_role]

    assert missing == []


def test_every_html_view_method_has_a_required_role():
    missing = []
    for entry in _routes(get_resolver().url_patterns):
        view = getattr(entry.callback, "view_class", None)
        if view and issubclass(view, OrganizationViewMixin):
            handled = [m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)]
            missing += [f"{view.__name__}.{method}" for method in handled if method not in view.required_role]

    assert missing == []
