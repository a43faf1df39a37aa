"""The two statements of a detector pass, run as prepared statements on Django's connection."""

from __future__ import annotations

import psycopg
from django.db import connection


def prepared_value(sql: str, params: dict):
    """Run ``sql`` and return the first column of its first row.

    The statement is prepared once per connection and its parameters travel separately (server-side
    binding), where Django's cursor would quote every placeholder into the text and make
    PostgreSQL parse and plan the statement again on every call; the worker runs the load and the
    write statements for every session it examines. Errors are Django's, as from its cursor.
    (Behind a transaction-mode pgbouncer this needs its prepared-statement support, 1.21+.)
    """
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchone()[0]
