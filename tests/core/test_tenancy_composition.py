"""Scope is checked when a tenant queryset is composed into another query, not only when it is
evaluated: an unscoped inner queryset raises in every form Django composes it."""

from __future__ import annotations

import pytest
from django.db.models import Exists, OuterRef, Subquery

from apps.core.models import UnscopedQueryError
from apps.projects.models import ApiKey, Project
from tests.factories.projects import ApiKeyFactory


@pytest.fixture
def keys(project, other_project):
    return ApiKeyFactory(project=project, name="ours"), ApiKeyFactory(project=other_project, name="theirs")


def test_an_unscoped_queryset_in_an_in_lookup_raises(project, keys):
    scoped = ApiKey.objects.for_project(project)

    with pytest.raises(UnscopedQueryError):
        scoped.filter(pk__in=ApiKey.objects.filter(name="theirs").values("pk"))
    with pytest.raises(UnscopedQueryError):
        scoped.filter(pk__in=ApiKey.objects.all())


def test_an_unscoped_queryset_in_exists_raises(project, keys):
    inner = ApiKey.objects.filter(project=OuterRef("pk"))

    with pytest.raises(UnscopedQueryError):
        list(Project.objects.for_org(project.organization).filter(Exists(inner)))
    with pytest.raises(UnscopedQueryError):
        Project.objects.for_org(project.organization).annotate(has_key=Exists(inner))


def test_an_unscoped_queryset_in_a_subquery_with_outer_ref_raises(project, keys):
    inner = ApiKey.objects.filter(project=OuterRef("pk")).values("name")[:1]

    with pytest.raises(UnscopedQueryError):
        Project.objects.for_org(project.organization).annotate(first_key=Subquery(inner))


def test_combining_a_scoped_and_an_unscoped_queryset_is_unscoped(project, keys):
    scoped = ApiKey.objects.for_project(project)
    unscoped = ApiKey.objects.filter(name="theirs")

    for combined in (scoped | unscoped, unscoped | scoped, scoped & unscoped, scoped ^ unscoped, scoped.union(unscoped)):
        with pytest.raises(UnscopedQueryError):
            list(combined)
    assert list(scoped) == [keys[0]]  # the operands themselves are unchanged


def test_scoped_compositions_work_and_stay_in_the_tenant(project, other_project, keys):
    ours, theirs = keys
    scoped = ApiKey.objects.for_project(project)

    assert list(scoped.filter(pk__in=ApiKey.objects.for_project(project).values("pk"))) == [ours]
    assert list(scoped.filter(pk__in=ApiKey.objects.for_project(other_project).values("pk"))) == []
    inner = ApiKey.objects.for_project(project).filter(project=OuterRef("pk"))
    projects = Project.objects.for_org(project.organization).annotate(
        has_key=Exists(inner), first_key=Subquery(inner.values("name")[:1])
    )
    assert [(p.pk, p.has_key, p.first_key) for p in projects] == [(project.pk, True, "ours")]
    assert sorted(k.name for k in scoped | ApiKey.objects.for_project(other_project)) == ["ours", "theirs"]
    assert list(scoped.union(ApiKey.objects.for_project(project))) == [ours]


def test_the_escape_hatch_composes_without_a_scope(project, keys):
    ours, theirs = keys

    names = ApiKey.all_tenants.filter(pk__in=ApiKey.all_tenants.filter(name="theirs").values("pk"))

    assert list(names) == [theirs]
