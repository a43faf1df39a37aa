import time

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client, override_settings

from apps.core import tasks
from apps.core.api import exception_handler
from apps.core.redis import redis_client
from apps.traces.models import Turn
from config.embedded import free_port
from tests.factories.projects import api_key_with_secret
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


def _schema() -> dict:
    return Client().get("/api/schema/?format=json").json()


def _component(schema: dict, ref: dict) -> dict:
    return schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[-1]]


def _response_schema(schema: dict, path: str, method: str, status: str) -> dict:
    return schema["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]


@pytest.mark.django_db
def test_fields_returned_as_null_are_declared_nullable():
    schema = _schema()

    keys = _component(schema, _response_schema(schema, "/api/v1/orgs/{org}/projects/{project}/keys/", "get", "200"))
    key = _component(schema, keys["properties"]["results"]["items"])
    events = _component(schema, _response_schema(schema, "/api/v1/orgs/{org}/audit-events/", "get", "200"))
    event = _component(schema, events["properties"]["results"]["items"])

    assert {name: key["properties"][name].get("nullable") for name in ("created_by", "last_used_at", "revoked_at")} == {
        "created_by": True, "last_used_at": True, "revoked_at": True,
    }
    assert event["properties"]["ip_address"].get("nullable") is True


@pytest.mark.django_db
def test_every_operation_documents_its_auth_tenant_and_input_errors_with_the_error_body():
    schema = _schema()
    error = {"$ref": "#/components/schemas/Error"}

    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            expected = {"401" if operation["security"] == [{"ApiKeyAuth": []}] else "403"}
            if "{" in path:
                expected.add("404")
            if "requestBody" in operation:
                expected |= {"400", "413", "415"}
            for status in sorted(expected):
                documented = responses.get(status, {}).get("content", {}).get("application/json", {}).get("schema")
                if documented != error:
                    missing.append(f"{method.upper()} {path} {status}")

    assert missing == []
    assert schema["components"]["schemas"]["Error"]["required"] == ["code", "field", "message"]
    assert schema["components"]["schemas"]["Error"]["properties"]["field"]["nullable"] is True
    assert set(schema["paths"]["/api/v1/turns"]["post"]["responses"]) >= {"400", "401", "413", "415", "429"}
    assert "409" not in schema["paths"]["/api/v1/turns"]["post"]["responses"]  # ids are per project: no cross-tenant conflict


@pytest.mark.django_db
def test_a_body_the_view_requires_is_marked_required():
    schema = _schema()

    required = {
        (path, method): operation["requestBody"].get("required", False)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if path in ("/api/v1/turns", "/api/v1/ingest", "/api/v1/feedback", "/api/v1/otlp/v1/traces", "/api/v1/orgs/{org}/members/{member}/")
        and "requestBody" in operation
    }

    assert required == {
        ("/api/v1/turns", "post"): True,
        ("/api/v1/ingest", "post"): True,
        ("/api/v1/feedback", "post"): True,
        ("/api/v1/otlp/v1/traces", "post"): True,
        ("/api/v1/orgs/{org}/members/{member}/", "patch"): True,
    }


@pytest.mark.django_db
def test_page_parameters_are_documented_with_their_types_and_bounds():
    schema = _schema()

    def query(path):
        return {p["name"]: p["schema"] for p in schema["paths"][path]["get"]["parameters"] if p["in"] == "query"}

    invitations = query("/api/v1/orgs/{org}/invitations/")
    problems = query("/api/v1/orgs/{org}/projects/{project}/problems/")

    assert invitations["limit"] == {"type": "integer", "minimum": 1, "maximum": 500}
    assert invitations["cursor"] == {"type": "string"}
    assert problems["limit"] == {"type": "integer", "minimum": 1, "maximum": 500}
    assert problems["offset"] == {"type": "integer", "minimum": 0}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "route, query, field",
    [
        ("invitations/", "limit=ten", "limit"),
        ("invitations/", "limit=0", "limit"),
        ("invitations/", "limit=501", "limit"),
        ("invitations/", "cursor=not-a-cursor", "cursor"),
        ("projects/{project}/problems/", "limit=1.5", "limit"),
        ("projects/{project}/problems/", "offset=-1", "offset"),
        ("projects/{project}/problems/", "offset=x", "offset"),
    ],
)
def test_wrong_page_parameters_are_a_400_naming_the_parameter(route, query, field, project, owner, login):
    client = login(owner, api=True)

    response = client.get(f"/api/v1/orgs/acme/{route.format(project=project.pk)}?{query}")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["field"] == field


@pytest.mark.django_db
def test_good_page_parameters_still_page(project, owner, login):
    client = login(owner, api=True)

    invitations = client.get("/api/v1/orgs/acme/invitations/?limit=1")
    problems = client.get(f"/api/v1/orgs/acme/projects/{project.pk}/problems/?limit=2&offset=0")

    assert invitations.status_code == 200
    assert invitations.json()["results"] == []
    assert problems.status_code == 200
    assert problems.json()["count"] == 0


@pytest.mark.django_db
def test_a_time_with_an_offset_postgresql_cannot_store_is_a_400_not_a_500(project):
    _, secret = api_key_with_secret(project=project)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    response = client.post(
        "/api/v1/turns",
        {"question": "q", "steps": [{"id": "s1", "started_at": "2000-05-02T12:07:17-23:08"}]},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "UTC offset beyond ±15:59" in response.json()["message"]
    assert Turn.objects.for_project(project).count() == 0
