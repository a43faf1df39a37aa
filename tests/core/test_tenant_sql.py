"""The raw-SQL door binds every statement to the caller's project."""

from __future__ import annotations

import pytest

from apps.core import hooks
from apps.core.sql import UnscopedSQLError, tenant_prepared_value, tenant_sql
from tests.factories.projects import ApiKeyFactory

SELECT_KEYS = "SELECT name FROM projects_apikey WHERE project_id = %(project_id)s ORDER BY name"


def test_a_scoped_statement_sees_only_its_project(project, other_project):
    ApiKeyFactory(project=project, name="ours")
    ApiKeyFactory(project=other_project, name="theirs")

    with tenant_sql(project=project) as cursor:
        cursor.execute(SELECT_KEYS)
        ours = cursor.fetchall()
    with tenant_sql(project=other_project.pk) as cursor:
        cursor.execute(SELECT_KEYS + " LIMIT %(limit)s", {"limit": 5})
        theirs = cursor.fetchall()

    assert (ours, theirs) == ([("ours",)], [("theirs",)])
    assert tenant_prepared_value(
        "SELECT count(*) FROM projects_apikey WHERE project_id = %(project_id)s", {}, project=project
    ) == 1


@pytest.mark.parametrize(
    "sql, params",
    [
        ("SELECT name FROM projects_apikey", None),  # no tenant at all
        ("SELECT name FROM projects_apikey WHERE project_id = %s", [1]),  # positional: the door cannot bind it
        (SELECT_KEYS, {"project_id": 999}),  # a tenant of the caller's choosing
    ],
)
def test_a_statement_that_does_not_take_the_door_project_is_refused(project, sql, params):
    with tenant_sql(project=project) as cursor, pytest.raises(UnscopedSQLError):
        cursor.execute(sql, params)
    with pytest.raises(UnscopedSQLError):
        tenant_prepared_value(sql, params or {}, project=project)


@pytest.mark.parametrize("kwargs", [{}, {"project": None}, {"unscoped": ""}, {"project": "1"}, {"project": 1, "unscoped": "why"}])
def test_the_door_needs_exactly_one_project_or_a_reason(db, kwargs):
    with pytest.raises(UnscopedSQLError), tenant_sql(**kwargs):
        pass


def test_an_unscoped_statement_states_its_reason_and_spans_projects(project, other_project):
    ApiKeyFactory(project=project, name="ours")
    ApiKeyFactory(project=other_project, name="theirs")

    with tenant_sql(unscoped="test: counts every project's keys") as cursor:
        cursor.execute("SELECT count(*) FROM projects_apikey")
        (count,) = cursor.fetchone()

    assert count == 2


def test_several_statements_in_one_execute_stay_one_round_trip_through_the_door(project, other_project, django_assert_num_queries):
    # Given a key in each project
    ApiKeyFactory(project=project, name="ours")
    ApiKeyFactory(project=other_project, name="theirs")

    # When a SET and a scoped read go as one execute (as review's claim does)
    with django_assert_num_queries(1), tenant_sql(project=project) as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF; " + SELECT_KEYS, {})
        cursor.nextset()  # the cursor's own, through the door
        rows = cursor.fetchall()

    # Then the read is the door's project's only
    assert rows == [("ours",)]


def test_hooks_call_the_registered_implementation_and_refuse_a_missing_one():
    calls = []
    hooks.register("test.hook", calls.append)
    hooks.register("test.hook", calls.append)  # the same implementation again: a no-op

    hooks.call("test.hook", 42)

    assert calls == [42]
    with pytest.raises(hooks.HookNotRegistered):
        hooks.call("test.nobody")
    with pytest.raises(ValueError):
        hooks.register("test.hook", print)
