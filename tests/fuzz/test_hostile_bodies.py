"""Regressions of what hostile probing found on the JSON door (issue 9): over-deep JSON, bodies
that are not UTF-8, NaN and Infinity, truncated gzip and deflate. Each gets a 400 with a stable
code on every route that reads JSON, and nothing is written."""

from __future__ import annotations

import gzip
import io
import logging
import time
import uuid
import zlib

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.core.roles import Role
from apps.detection.models import DetectionRule
from apps.feedback.signing import make_token
from apps.organizations.models import Invitation, Organization
from apps.projects.models import Project
from apps.traces.models import Feedback, Signal, Step, Turn
from tests.factories.projects import api_key_with_secret

pytestmark = pytest.mark.django_db

MAX_DEPTH = 64  # settings.JSON_MAX_DEPTH, the documented default


def nested(depth: int) -> bytes:
    """A JSON value of exactly ``depth`` levels: objects and arrays alternating."""
    return b'{"a":[' * (depth // 2) + (b'{"a":1}' if depth % 2 else b"1") + b"]}" * (depth // 2)


@pytest.fixture
def key(project):
    return api_key_with_secret(project=project)


@pytest.fixture
def routes(key, members):
    """Every route that reads JSON from the public: name → (client, method, path, body around a value)."""
    api_key, secret = key
    ingest = APIClient()
    ingest.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    owner = APIClient()
    owner.force_login(members[Role.OWNER].user)
    token = make_token(signing_key=api_key.link_signing_key(), exp=int(time.time()) + 3600, key_id=api_key.key_id,
                       project_id=str(api_key.project_id), turn_id=str(uuid.uuid4()))
    return {
        "turns": (ingest, "post", "/api/v1/turns", b'{"question": "q", "metadata": %s}'),
        "ingest": (ingest, "post", "/api/v1/ingest",
                   b'{"batch": [{"type": "turn", "body": {"question": "q", "metadata": %s}}]}'),
        "feedback": (ingest, "post", "/api/v1/feedback", b'{"turn_id": "%s", "comment": %%s}' % str(uuid.uuid4()).encode()),
        "otlp": (ingest, "post", "/api/v1/otlp/v1/traces", b'{"resourceSpans": [], "x": %s}'),
        "organization": (owner, "patch", "/api/v1/orgs/acme", b'{"name": %s}'),
        "invitation": (owner, "post", "/api/v1/orgs/acme/invitations/", b'{"email": %s, "role": "member"}'),
        "widget": (Client(), "post", f"/f/{token}", b'{"rating": "down", "comment": %s}'),
    }


def stored(project) -> tuple:
    """Every row these routes can write."""
    return (
        Turn.objects.for_project(project).count(), Step.objects.for_project(project).count(),
        Signal.objects.for_project(project).count(), Feedback.objects.for_project(project).count(),
        Invitation.all_tenants.count(), list(Organization.objects.order_by("pk").values_list("name", flat=True)),
    )


def send(routes, name: str, raw: bytes, **extra):
    client, method, path, _ = routes[name]
    return getattr(client, method)(path, raw, content_type="application/json", **extra)


ROUTES = ["turns", "ingest", "feedback", "otlp", "organization", "invitation", "widget"]


@pytest.mark.parametrize("name", ROUTES)
@pytest.mark.parametrize("depth", [MAX_DEPTH, 476, 10_000])
def test_json_nested_deeper_than_the_limit_is_400_too_deep(name, depth, routes, project):
    before = stored(project)

    response = send(routes, name, routes[name][3] % nested(depth))

    assert (response.status_code, response.json()) == (400, {
        "code": "too_deep", "message": "The JSON nests objects and arrays deeper than 64 levels.", "field": None,
    })
    assert stored(project) == before


def test_json_exactly_at_the_depth_limit_is_stored(routes, project):
    # The body is level 1 and "metadata" level 2: its value may nest 63 levels, not 64.
    at_limit = send(routes, "turns", routes["turns"][3] % nested(MAX_DEPTH - 1))
    over = send(routes, "turns", routes["turns"][3] % nested(MAX_DEPTH))

    assert (at_limit.status_code, over.status_code) == (201, 400)
    assert Turn.objects.for_project(project).count() == 1


@pytest.mark.parametrize("name", ROUTES)
def test_a_body_that_is_not_utf8_is_400_invalid_encoding(name, routes, project):
    before = stored(project)
    raw = routes[name][3] % b'"\xff"'

    response = send(routes, name, raw)

    offset = raw.index(b"\xff")
    assert (response.status_code, response.json()) == (400, {
        "code": "invalid_encoding",
        "message": f"The body is not valid UTF-8: byte 0xff at offset {offset} (invalid start byte).",
        "field": None,
    })
    assert stored(project) == before


@pytest.mark.parametrize("name", ROUTES)
@pytest.mark.parametrize(("number", "message"), [
    (b"NaN", "NaN is not a JSON number; send a number, null or a string."),
    (b"Infinity", "Infinity is not a JSON number; send a number, null or a string."),
    (b"-Infinity", "-Infinity is not a JSON number; send a number, null or a string."),
    (b"1e999", "The number 1e999 is beyond the range of a 64-bit float."),
])
def test_nan_and_infinity_are_400_invalid_number(name, number, message, routes, project):
    before = stored(project)

    response = send(routes, name, routes[name][3] % (b"[%s]" % number))

    assert (response.status_code, response.json()) == (400, {"code": "invalid_number", "message": message, "field": None})
    assert stored(project) == before


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
@pytest.mark.parametrize(("damage", "message"), [
    (lambda data: data[:-9], "The {} body is truncated: the compressed stream does not end."),
    (lambda data: data + b"tail", "The {} body has 4 bytes after the end of the compressed stream."),
], ids=["truncated", "padded"])
def test_a_truncated_or_padded_compressed_body_is_400_invalid_gzip(encoding, damage, message, routes, project):
    body = b'{"question": "q", "metadata": {"note": "%s"}}' % (b"x" * 2000)
    compressed = gzip.compress(body) if encoding == "gzip" else zlib.compress(body)

    response = send(routes, "turns", damage(compressed), HTTP_CONTENT_ENCODING=encoding)

    assert (response.status_code, response.json()) == (
        400, {"code": "invalid_gzip", "message": message.format(encoding), "field": None},
    )
    assert Turn.objects.for_project(project).count() == 0


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_whole_compressed_body_is_stored(encoding, routes, project):
    body = b'{"question": "q"}'

    response = send(routes, "turns", gzip.compress(body) if encoding == "gzip" else zlib.compress(body),
                    HTTP_CONTENT_ENCODING=encoding)

    assert response.status_code == 201
    assert Turn.objects.for_project(project).get().input == "q"


def test_html_forms_do_not_fail_on_a_body_that_is_not_utf8(organization, members):
    client = Client()
    client.force_login(members[Role.OWNER].user)

    response = client.post("/orgs/acme/projects/new/", b"name=Bad\xff\xfe" + b"%ff" * 3,
                           content_type="application/x-www-form-urlencoded")

    assert response.status_code == 302
    # Raw bytes are read as Latin-1 (WSGI), undecodable percent-escapes become U+FFFD.
    assert Project.objects.for_org(organization).get().name == "Bad\xff\xfe\ufffd\ufffd\ufffd"


def test_a_403_is_logged_in_one_line_and_a_500_keeps_its_traceback(members):
    console = next(handler for handler in logging.getLogger().handlers if handler.name == "console")
    stream = io.StringIO()
    previous = console.setStream(stream)
    client = Client()
    client.force_login(members[Role.MEMBER].user)

    try:
        response = client.post("/orgs/acme/projects/new/", {"name": "x"})
        logging.getLogger("django.request").error("boom", exc_info=ValueError("kept"), extra={"status_code": 500})
    finally:
        console.setStream(previous)

    lines = stream.getvalue().splitlines()
    assert response.status_code == 403
    assert [line.split(" ", 2)[2] for line in lines[:2]] == [
        "WARNING django.request Forbidden (Permission denied): /orgs/acme/projects/new/",
        "ERROR django.request boom",
    ]
    assert lines[2:] == ["ValueError: kept"]


def test_a_rule_holding_a_nul_character_is_a_syntax_error(members, project):
    client = Client()
    client.force_login(members[Role.OWNER].user)

    response = client.post(f"/orgs/acme/projects/{project.pk}/detectors/", {
        "action": "rule_create", "name": "nul", "expression": 'question == "a\x00b"', "signal_kind": "nul_rule",
    })

    assert response.status_code == 400
    assert "Rule syntax: a rule cannot contain NUL characters (at position 14)" in response.content.decode()
    assert DetectionRule.objects.for_project(project).count() == 0


def test_a_rule_number_beyond_a_float_is_a_syntax_error(members, project):
    client = Client()
    client.force_login(members[Role.OWNER].user)

    response = client.post(f"/orgs/acme/projects/{project.pk}/detectors/", {
        "action": "rule_create", "name": "huge", "expression": "metadata.score > 1e999", "signal_kind": "huge_rule",
    })

    assert response.status_code == 400
    assert "Rule syntax: the number 1e999 is out of range (at position 17)" in response.content.decode()
    assert DetectionRule.objects.for_project(project).count() == 0
