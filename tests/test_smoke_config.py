import pytest
from django.db import connection

from apps.core.redis import redis_client


@pytest.mark.django_db
def test_database_is_real_postgresql():
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0]

    assert version.startswith("PostgreSQL")


def test_redis_is_real():
    client = redis_client()

    client.set("agentloop:test:ping", "pong", ex=10)

    assert client.get("agentloop:test:ping") == b"pong"
