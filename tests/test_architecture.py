"""Rules that matter, enforced by tests rather than memory (STYLE.md)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
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


# --- one door for raw SQL ------------------------------------------------------------------------

SQL_DOOR = "apps/core/sql.py"


def _app_trees():
    """(relative path, syntax tree) of every module in apps/ but migrations."""
    for path, relative in _app_sources():
        if "/migrations/" not in relative:
            yield relative, ast.parse(path.read_text(), filename=relative)


def _is_bare_cursor(node: ast.Call) -> bool:
    """``….cursor(…)`` (Django's connection or a raw one) or ``psycopg.Cursor(…)`` and its kin."""
    function = node.func
    if isinstance(function, ast.Attribute) and function.attr == "cursor":
        return True
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    return name in {"Cursor", "ClientCursor", "RawCursor", "ServerCursor", "AsyncCursor"}


def _calls(tree):
    """Every call of the module, in source order."""
    return sorted((node for node in ast.walk(tree) if isinstance(node, ast.Call)), key=lambda n: (n.lineno, n.col_offset))


def _bare_cursors(trees) -> list[str]:
    return [
        f"{relative}:{node.lineno}: {ast.unparse(node.func)}(…)"
        for relative, tree in trees if relative != SQL_DOOR
        for node in _calls(tree) if _is_bare_cursor(node)
    ]


def _owned_tables() -> dict[str, str]:
    """table name → the folder of the app that owns it (apps/<app>), for every model of apps/."""
    owners = {}
    for model in django_apps.get_models(include_auto_created=True):
        folder = Path(model._meta.app_config.path).resolve()
        if folder.is_relative_to(ROOT / "apps"):
            owners[model._meta.db_table] = folder.relative_to(ROOT).as_posix()
    return owners


def _string_literals(tree):
    """(line, text) of every string constant, f-string parts included; docstrings (prose that may
    name a table to explain a design) are not statements and are left out."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body
        and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def _foreign_tables(trees, owners: dict[str, str]) -> list[str]:
    table_name = re.compile(r"\b(" + "|".join(sorted(map(re.escape, owners), key=len, reverse=True)) + r")\b")
    found = {
        (relative, line, table)
        for relative, tree in trees
        for line, text in _string_literals(tree)
        for table in table_name.findall(text)
        if not relative.startswith(owners[table] + "/")
    }
    return [f"{relative}:{line}: {table} (of {owners[table]})" for relative, line, table in sorted(found)]


def _unscoped_reasons(trees) -> tuple[list[str], list[str]]:
    """(the reasons given to ``unscoped=``, the calls whose reason is not a non-empty string)."""
    reasons, offenders = [], []
    for relative, tree in trees:
        for node in _calls(tree):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name not in {"tenant_sql", "tenant_prepared_value"}:
                continue
            for keyword in node.keywords:
                if keyword.arg != "unscoped":
                    continue
                value = keyword.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str) and value.value.strip():
                    reasons.append(f"{relative}:{node.lineno}: {value.value}")
                else:
                    offenders.append(f"{relative}:{node.lineno}: unscoped={ast.unparse(value)}")
    return reasons, offenders


def test_the_sql_rules_see_what_they_look_for():
    # Given a module of the review app with each thing the rules refuse, and a docstring
    source = '''
"""Reads traces_turn, in prose."""
with connection.cursor() as cursor:
    cursor.execute(f"SELECT id FROM traces_turn t JOIN review_reviewitem i ON i.turn_id = t.id WHERE {where}")
psycopg.Cursor(raw)
tenant_sql(unscoped="")
tenant_sql(unscoped=REASON)
tenant_sql(unscoped="the sweep reads every project")
'''
    trees = [("apps/review/example.py", ast.parse(source))]

    # When the rules read it
    cursors = _bare_cursors(trees)
    tables = _foreign_tables(trees, {"traces_turn": "apps/traces", "review_reviewitem": "apps/review"})
    reasons, offenders = _unscoped_reasons(trees)

    # Then each is found, and nothing else
    assert cursors == ["apps/review/example.py:3: connection.cursor(…)", "apps/review/example.py:5: psycopg.Cursor(…)"]
    assert tables == ["apps/review/example.py:4: traces_turn (of apps/traces)"]
    assert reasons == ["apps/review/example.py:8: the sweep reads every project"]
    assert offenders == ["apps/review/example.py:6: unscoped=''", "apps/review/example.py:7: unscoped=REASON"]


def test_no_bare_cursor_outside_the_sql_door():
    offenders = _bare_cursors(_app_trees())

    print(f"bare cursors outside {SQL_DOOR}: {len(offenders)}", *offenders, sep="\n  ")
    assert offenders == []


def test_only_an_apps_own_modules_name_its_tables():
    offenders = _foreign_tables(_app_trees(), _owned_tables())

    print(f"foreign table names: {len(offenders)}", *offenders, sep="\n  ")
    assert offenders == []


def test_every_unscoped_statement_gives_its_reason():
    reasons, offenders = _unscoped_reasons(_app_trees())

    print(f"unscoped raw SQL: {len(reasons)} statements with a reason", *reasons, sep="\n  ")
    assert offenders == []
    assert len(reasons) >= 1  # the API key lookup, at least: the walk finds the door's callers


def test_the_floors_contract_holds():
    """`lint-imports` with the contracts in pyproject.toml: layers, no sibling cycles, no tests imported."""
    lint = Path(sys.executable).with_name("lint-imports")

    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)

    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_every_task_has_a_queue_of_the_one_enum_and_every_worker_serves_them_all():
    from apps.core.queues import Queue
    from config.celery_app import app

    app.loader.import_default_modules()  # autodiscovery is lazy: load every app's tasks module
    names = sorted(name for name in app.tasks if not name.startswith("celery."))
    routes = {name: app.amqp.router.route({}, name)["queue"].name for name in names}

    assert {"detection.detect_sessions", "review.route", "problems.cluster_project", "core.heartbeat"} <= set(names)
    assert set(routes.values()) <= {str(queue) for queue in Queue}
    assert (routes["detection.detect_sessions"], routes["review.route"], routes["problems.cluster_project"]) == (
        "detect", "review", "cluster")
    assert sorted(queue.name for queue in app.conf.task_queues) == sorted(str(queue) for queue in Queue)
