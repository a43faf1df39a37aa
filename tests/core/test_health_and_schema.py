import time

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client, override_settings

from apps.core import tasks
from apps.core.api import exception_handler
from apps.core.redis import redis_client
from config.embedded import free_port
from tests.faults.processes import Redis



@pytest.mark.django_db
def test_healthz_reports_database_and_redis():
    response = Client().get("/healthz")

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True


@pytest.mark.django_db
def test_healthz_is_503_when_redis_is_unreachable():
    dead = f"redis://127.0.0.1:{free_port()}/0"
    redis_client.cache_clear()
    try:
        with override_settings(REDIS_URL=dead):
            response = Client().get("/healthz")
    finally:
        redis_client.cache_clear()

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is False
    assert "ConnectionError" in body["checks"]["redis"]["error"]


@pytest.mark.django_db
def test_healthz_counts_failed_and_skipped_publishes():
    tasks.BROKER.fail(ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."))
    assert tasks.BROKER.allows() is False

    response = Client().get("/healthz")

    broker = response.json()["broker"]
    assert response.status_code == 200
    assert (broker["publish_failures"], broker["publishes_skipped"], broker["paused"]) == (1, 1, True)
    assert broker["last_error"] == "ConnectionError: Error 111 connecting to 127.0.0.1:6379. Connection refused."
    assert broker["last_failure"] is not None
    assert response.json()["rate_limiter"] == {
        "failures": 0, "skipped": 0, "last_failure": None, "last_error": None, "paused": False,
    }


@pytest.mark.django_db
def test_healthz_answers_within_the_timeout_when_redis_is_frozen(tmp_path, settings):
    frozen = Redis(tmp_path)
    frozen.start()
    frozen.freeze()
    settings.REDIS_URL = frozen.url
    redis_client.cache_clear()
    try:
        started = time.perf_counter()
        response = Client().get("/healthz")
        seconds = time.perf_counter() - started
    finally:
        redis_client.cache_clear()
        frozen.kill()

    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["error"] == "TimeoutError: Timeout reading from socket"
    assert seconds < 1.5


def test_heartbeat_task_is_idempotent_and_visible():
    redis_client().delete(tasks.HEARTBEAT_KEY)

    tasks.heartbeat.apply()
    tasks.heartbeat.apply()

    age = tasks.heartbeat_age_seconds()
    assert age is not None and 0 <= age < 5


@pytest.mark.django_db
def test_openapi_schema_documents_the_api():
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")

    schema = response.json()
    assert response.status_code == 200
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/orgs/{org}/projects/{project}/keys/" in schema["paths"]
    assert "/api/v1/auth/check" in schema["paths"]
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"


@pytest.mark.django_db
def test_api_docs_use_vendored_assets_only():
    response = Client().get("/api/docs/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html


@pytest.mark.django_db
def test_unknown_api_route_is_json_404_and_unknown_page_is_product_404():
    api = Client().get("/api/v1/nope")
    page = Client().get("/nope/")

    assert api.status_code == 404
    assert api.json()["code"] == "not_found"
    assert page.status_code == 404
    assert "Page not found" in page.content.decode()
    assert "AgentLoop" in page.content.decode()


def test_openapi_schema_is_valid_openapi_3_without_warnings(tmp_path):
    from django.core.management import call_command

    target = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    text = target.read_text()
    assert "/api/v1/ingest:" in text and "/api/v1/otlp/v1/traces:" in text


@pytest.mark.parametrize("error", [OperationalError("server closed the connection"), InterfaceError("connection already closed")])
def test_a_lost_database_connection_is_a_retryable_503_not_a_500(error):
    response = exception_handler(error, {})

    assert (response.status_code, response["Retry-After"], response.data["code"]) == (503, "5", "unavailable")
