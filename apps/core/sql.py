"""The one door for raw SQL, the twin of ``TenantQuerySet`` for statements the ORM cannot say.

Every statement names its project through the ``%(project_id)s`` parameter, and the door binds
that parameter itself, from the project the caller was given, so a statement cannot forget the
tenant or borrow another one::

    with tenant_sql(project=project) as cursor:
        cursor.execute("SELECT id FROM traces_turn WHERE project_id = %(project_id)s AND id = ANY(%(ids)s)",
                       {"ids": ids})

A statement that must span projects (a sweep over every project's new rows) says why instead:
``tenant_sql(unscoped="the sweep reads every project's new turns")``; tests/test_architecture.py
counts those reasons and refuses a bare ``connection.cursor()`` anywhere else.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import Iterator

import psycopg
from django.db import connection

from apps.core.models import UnscopedQueryError

PROJECT_PARAMETER = "%(project_id)s"


class UnscopedSQLError(UnscopedQueryError):
    """A raw statement without the project parameter, or with a project of the caller's choosing."""


def _project_id(project) -> uuid.UUID:
    project_id = getattr(project, "pk", project)
    if not isinstance(project_id, uuid.UUID):
        raise UnscopedSQLError(f"tenant_sql needs a project or a project id (UUID), not {project!r}")
    return project_id


def bind_project(sql: str, params: dict | None, project_id: uuid.UUID | None) -> dict | None:
    """The statement's parameters with ``project_id`` bound to the door's project.

    Refuses SQL that does not use ``%(project_id)s`` and parameters that bring their own
    ``project_id``: the tenant is the door's, never the caller's. ``project_id=None`` is the
    explicit unscoped door, which binds nothing.
    """
    if project_id is None:
        return params
    if PROJECT_PARAMETER not in sql:
        raise UnscopedSQLError(f"raw SQL must filter on {PROJECT_PARAMETER}: {' '.join(sql.split())[:120]}")
    if params is not None and not isinstance(params, dict):
        raise UnscopedSQLError("scoped raw SQL takes named parameters (a dict), not positional ones")
    if params and "project_id" in params:
        raise UnscopedSQLError("project_id is bound by tenant_sql; do not pass it")
    return {**(params or {}), "project_id": project_id}


class ScopedCursor:
    """Django's cursor with ``execute`` bound to one project; every other attribute is the cursor's."""

    def __init__(self, cursor, project_id: uuid.UUID | None):
        self._cursor = cursor
        self._project_id = project_id

    def execute(self, sql: str, params: dict | None = None):
        return self._cursor.execute(sql, bind_project(sql, params, self._project_id))

    def __getattr__(self, name):
        return getattr(self._cursor, name)

    def __iter__(self):
        return iter(self._cursor)


def _door(project, unscoped: str | None) -> uuid.UUID | None:
    if (project is None) == (not unscoped):
        raise UnscopedSQLError("tenant_sql takes project=… or unscoped='<reason>', exactly one of them")
    return None if unscoped else _project_id(project)


@contextmanager
def tenant_sql(*, project=None, unscoped: str | None = None) -> Iterator[ScopedCursor]:
    """A cursor on Django's connection whose statements are bound to ``project`` (see module doc)."""
    project_id = _door(project, unscoped)
    with connection.cursor() as cursor:
        yield ScopedCursor(cursor, project_id)


def tenant_prepared_value(sql: str, params: dict, *, project=None, unscoped: str | None = None):
    """Run ``sql`` as a prepared statement and return the first column of its first row.

    The statement is prepared once per connection and its parameters travel separately
    (server-side binding), where Django's cursor would quote every placeholder into the text and
    make PostgreSQL parse and plan the statement again on every call: the detection worker runs
    its load and write statements for every session it examines. Errors are Django's, as from its
    cursor. (Behind a transaction-mode pgbouncer this needs its prepared-statement support, 1.21+.)
    """
    bound = bind_project(sql, params, _door(project, unscoped))
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, bound, prepare=True)
        return cursor.fetchone()[0]


PURGE_SETTING = "agentloop.purging_project"


def project_purge_allow(*, project) -> None:
    """Let this transaction delete ``project``'s rows from append-only tables.

    Immutable tables (prompt versions, label history…) refuse DELETE in a trigger unless the
    transaction-local setting ``agentloop.purging_project`` names the row's project: deleting a
    whole project is the one way such rows leave. Call inside the deleting transaction.
    """
    with tenant_sql(project=project) as cursor:
        cursor.execute(f"SELECT set_config('{PURGE_SETTING}', %(project_id)s::text, true)")
