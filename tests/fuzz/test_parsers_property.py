"""Property tests of every parser the public can reach (issue 9): REST JSON bodies, batch items,
OTLP protobuf and JSON, gzip and deflate wrappers, the widget's token and submission, the rule
language. Whatever the input — arbitrary bytes, deep nesting, huge strings, wrong types, invalid
UTF-8, lone surrogates, NUL — the answer is a 2xx or a 4xx JSON error with a code from ``CODES``,
never a 500, and rows change exactly as the answer says. Real PostgreSQL and Redis.

The number of cases tried is printed at the end of the session (tests/fuzz/conftest.py).
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
import zlib
from urllib.parse import quote

import msgspec
import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from rest_framework.test import APIClient

from apps.core.roles import Role
from apps.detection.models import DetectionRule
from apps.detection.rules.evaluator import compile_rule, matches
from apps.detection.rules.parser import RuleSyntaxError, parse
from apps.feedback.signing import make_token
from apps.traces.models import Feedback, Signal, Step, Turn
from tests.factories.projects import api_key_with_secret
from tests.fuzz import tally
from tests.traces.test_otlp import export, make_span, otlp_json

pytestmark = pytest.mark.django_db

# Every code a public parser may answer with (DESIGN.md "Bad input"; README "Reliability and security").
CODES = {
    "malformed_json", "invalid_encoding", "too_deep", "invalid_number", "invalid_unicode", "invalid",
    "invalid_gzip", "payload_too_large", "unsupported_media_type", "invalid_otlp", "required", "unknown_type",
    "unknown_field", "too_large", "id_conflict", "batch_too_long", "link_malformed", "link_invalid_signature",
    "link_revoked", "link_expired", "link_lifetime_too_long",
}


def fuzz(examples: int):
    return hypothesis_settings(
        max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )


# --- strategies -----------------------------------------------------------------------------------

ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=12)  # lone surrogates and NUL included
LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | ANY_TEXT
JSON_VALUES = st.recursive(
    LEAVES, lambda children: st.lists(children, max_size=3) | st.dictionaries(ANY_TEXT, children, max_size=3),
    max_leaves=10,
)
HOSTILE = st.sampled_from([
    b"NaN", b"-Infinity", b"1e999", b"-1e400", b"1" * 5000, b'"\\ud800"', b'"a\\udfffb"', b'"\\u0000"', b'"\xff"',
    b'"\xed\xa0\x80"', b'"\xc3"', b"\x00", b'"' + b"x" * 300_000 + b'"', b"[" * 70 + b"]" * 70, b"[" * 476 + b"]" * 476,
    b'{"a":' * 5000 + b"1" + b"}" * 5000, b"[" * 20_000, b"", b"{", b"]", b"tru", b'"\\x41"', b"'single'", b"0x10",
])
UUIDS = [str(uuid.UUID(int=n)) for n in range(1, 6)]
ID_VALUES = st.sampled_from(UUIDS) | st.uuids().map(str) | JSON_VALUES


def _encoded(value) -> bytes:
    """JSON text of ``value``: ASCII escapes, or raw UTF-8 where a lone surrogate becomes invalid UTF-8."""
    return json.dumps(value).encode() if isinstance(value, (int, float, bool)) or value is None else (
        json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    )


@st.composite
def objects(draw, fields: list[str], ids: tuple[str, ...] = ("id", "turn_id")) -> bytes:
    """A JSON object of known and unknown fields with right, wrong or hostile values."""
    keys = draw(st.lists(st.sampled_from(fields) | ANY_TEXT, max_size=6, unique=True))
    parts = []
    for key in keys:
        value = draw(ID_VALUES) if key in ids else draw(JSON_VALUES)
        raw = draw(HOSTILE) if draw(st.integers(0, 5)) == 0 else _encoded(value)
        parts.append(_encoded(key) + b":" + raw)
    return b"{" + b",".join(parts) + b"}"


TURN_FIELDS = ["id", "question", "agent_response", "user_id", "session_id", "signals", "history", "prompt_version",
               "model", "retrieved", "tool_calls", "metadata", "variant", "timestamp", "steps"]
FEEDBACK_FIELDS = ["turn_id", "id", "rating", "comment", "correction", "signals", "user_id", "metadata"]
STEP_FIELDS = ["id", "turn_id", "parent_id", "kind", "name", "started_at", "ended_at", "input", "output", "error"]
SIGNAL_FIELDS = ["turn_id", "kind", "value", "dedupe_key"]
BODIES = {
    "turn": objects(TURN_FIELDS), "feedback": objects(FEEDBACK_FIELDS), "step": objects(STEP_FIELDS),
    "signal": objects(SIGNAL_FIELDS),
}


@st.composite
def batch_items(draw) -> bytes:
    kind = draw(st.sampled_from(["turn", "feedback", "step", "signal"]) | ANY_TEXT)
    body = draw(BODIES.get(kind, objects(TURN_FIELDS)))
    item = b'{"type":' + _encoded(kind) + b',"body":' + body
    if draw(st.booleans()):
        item += b',"id":' + _encoded(draw(ID_VALUES))
    return item + b"}"


BATCHES = st.lists(batch_items(), min_size=0, max_size=6).map(lambda items: b'{"batch":[' + b",".join(items) + b"]}")


def bodies(structured) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=200) | HOSTILE | structured


# --- the property ---------------------------------------------------------------------------------


def answered(what: str, response) -> dict | None:
    """Assert the property on one answer: a 2xx, or a 4xx JSON error with a known code."""
    tally.TRIED[what] += 1
    if response.status_code >= 500:
        tally.SERVER_ERRORS[what] += 1
    assert response.status_code < 500, response.content[:500]
    if response.status_code < 400:
        return None
    error = response.json()
    assert error["code"] in CODES, error
    assert isinstance(error["message"], str) and error["message"]
    assert "field" in error
    return error


def rows(project) -> dict[str, int]:
    return {
        "turns": Turn.objects.for_project(project).count(), "steps": Step.objects.for_project(project).count(),
        "signals": Signal.objects.for_project(project).count(), "feedback": Feedback.objects.for_project(project).count(),
    }


@pytest.fixture
def key(project):
    return api_key_with_secret(project=project)


@pytest.fixture
def ingest(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key[1]}")
    return client


def post(client, path: str, raw: bytes, content_type: str = "application/json", **extra):
    return client.post(path, raw, content_type=content_type, **extra)


# --- REST JSON bodies -----------------------------------------------------------------------------


@fuzz(400)
@given(raw=bodies(objects(TURN_FIELDS)))
def test_turn_bodies(ingest, project, raw):
    before = rows(project)

    response = post(ingest, "/api/v1/turns", raw)

    answered("REST bodies", response)
    after = rows(project)
    if response.status_code >= 400:
        assert after == before
    else:
        assert after["turns"] == before["turns"] + (response.status_code == 201)


@fuzz(200)
@given(raw=bodies(objects(FEEDBACK_FIELDS)))
def test_feedback_bodies(ingest, project, raw):
    before = rows(project)
    known = {str(pk) for pk in Feedback.objects.for_project(project).values_list("id", flat=True)}

    response = post(ingest, "/api/v1/feedback", raw)

    answered("REST bodies", response)
    after = rows(project)
    if response.status_code >= 400:
        assert after == before
    else:  # 201 new, 200 updated, 202 stored waiting for its turn: new unless its id was known
        added = response.status_code == 201 or (response.status_code == 202 and response.json()["id"] not in known)
        assert after["feedback"] == before["feedback"] + added
        assert after["turns"] == before["turns"]


@fuzz(200)
@given(raw=bodies(BATCHES))
def test_batch_items(ingest, project, raw):
    before = rows(project)

    response = post(ingest, "/api/v1/ingest", raw)

    answered("batch bodies", response)
    after = rows(project)
    if response.status_code >= 400:
        assert after == before
        return
    results = response.json()["results"]
    tally.TRIED["batch items"] += len(results)
    stored = {kind: sum(1 for r in results if r["type"] == kind and r["status"] in statuses)
              for kind, statuses in (("turn", {201}), ("feedback", {201, 202}))}
    assert (after["turns"] - before["turns"], after["feedback"] - before["feedback"]) == (stored["turn"], stored["feedback"])
    assert response.json()["accepted"] + response.json()["rejected"] == len(results)


@fuzz(150)
@given(raw=bodies(objects(["name", "retention_days", "email", "role"], ids=())), route=st.sampled_from(["org", "invite"]))
def test_management_bodies(members, organization, raw, route):
    client = APIClient()
    client.force_login(members[Role.OWNER].user)

    if route == "org":
        response = client.patch("/api/v1/orgs/acme", raw, content_type="application/json")
    else:
        response = client.post("/api/v1/orgs/acme/invitations/", raw, content_type="application/json")

    answered("management API bodies", response)


# --- compressed bodies ----------------------------------------------------------------------------

DAMAGE = st.sampled_from(["none", "truncate", "append", "flip"])


@fuzz(150)
@given(question=st.text(max_size=200), encoding=st.sampled_from(["gzip", "deflate", "raw-deflate"]), damage=DAMAGE,
       where=st.floats(0, 1), extra=st.binary(min_size=1, max_size=8))
def test_compressed_bodies(ingest, project, question, encoding, damage, where, extra):
    turn_id = str(uuid.uuid4())
    body = json.dumps({"id": turn_id, "question": question}).encode()
    if encoding == "gzip":
        data = gzip.compress(body)
    else:
        deflater = zlib.compressobj(wbits=zlib.MAX_WBITS if encoding == "deflate" else -zlib.MAX_WBITS)
        data = deflater.compress(body) + deflater.flush()
    at = int(where * (len(data) - 1))
    data = {"none": data, "truncate": data[:at], "append": data + extra,
            "flip": data[:at] + bytes([data[at] ^ extra[0]]) + data[at + 1:]}[damage]

    response = post(ingest, "/api/v1/turns", data,
                    HTTP_CONTENT_ENCODING="deflate" if encoding == "raw-deflate" else encoding)

    error = answered("gzip/deflate bodies", response)
    if error is None:  # whatever was damaged, what is stored is exactly what was sent
        assert Turn.objects.for_project(project).get(id=turn_id).input == question.replace("\x00", "")
    else:
        assert not Turn.objects.for_project(project).filter(id=turn_id).exists()
    if damage in ("truncate", "append") or encoding == "raw-deflate":
        assert error is not None and error["code"] == "invalid_gzip"


# --- OTLP -----------------------------------------------------------------------------------------

HEX_IDS = st.binary(min_size=0, max_size=17)
ATTRIBUTE_VALUES = st.recursive(
    st.text(max_size=8) | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.booleans() | st.binary(max_size=4),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8,
)


@st.composite
def otlp_messages(draw) -> ExportTraceServiceRequest:
    spans = []
    trace = draw(st.sampled_from(["5b8efff798038103d269b633813fc60c", uuid.uuid4().hex]))
    for _ in range(draw(st.integers(0, 4))):
        span = make_span(trace, draw(st.sampled_from(["eee19b7ec3c1b174", uuid.uuid4().hex[:16]])),
                         name=draw(st.text(max_size=10)),
                         attributes=draw(st.dictionaries(st.text(max_size=12), ATTRIBUTE_VALUES, max_size=4)))
        if draw(st.integers(0, 4)) == 0:
            span.trace_id, span.span_id = draw(HEX_IDS), draw(HEX_IDS)
        span.start_time_unix_nano = draw(st.integers(0, 2**64 - 1))
        spans.append(span)
    return export(*spans)


@fuzz(200)
@given(message=otlp_messages(), mutation=st.sampled_from(["none", "truncate", "flip", "garbage"]),
       where=st.floats(0, 1), garbage=st.binary(max_size=64))
def test_otlp_protobuf(ingest, project, message, mutation, where, garbage):
    data = message.SerializeToString()
    at = int(where * max(len(data) - 1, 0))
    data = {"none": data, "truncate": data[:at], "flip": data[:at] + garbage[:1] + data[at + 1:], "garbage": garbage}[mutation]
    before = rows(project)

    response = post(ingest, "/api/v1/otlp/v1/traces", data, content_type="application/x-protobuf")

    answered("OTLP protobuf bodies", response)
    if response.status_code >= 400:
        assert rows(project) == before


def _replace_somewhere(data, draw):
    """Replace one value anywhere in decoded OTLP JSON with a wrong-typed or hostile one."""
    slots = []
    pending = [data]
    while pending:
        node = pending.pop()
        for key in (node if isinstance(node, dict) else range(len(node))):
            slots.append((node, key))
            if isinstance(node[key], (dict, list)):
                pending.append(node[key])
    if slots:
        node, key = draw(st.sampled_from(slots))
        node[key] = draw(JSON_VALUES)
    return data


@fuzz(200)
@given(message=otlp_messages(), data=st.data(), hostile=st.none() | HOSTILE)
def test_otlp_json(ingest, project, message, data, hostile):
    document = _replace_somewhere(otlp_json(message), data.draw) if data.draw(st.booleans()) else otlp_json(message)
    raw = json.dumps(document).encode()
    if hostile is not None:
        raw = raw[:-1] + b',"x":' + hostile + b"}"
    before = rows(project)

    response = post(ingest, "/api/v1/otlp/v1/traces", raw)

    answered("OTLP JSON bodies", response)
    if response.status_code >= 400:
        assert rows(project) == before


# --- the feedback widget --------------------------------------------------------------------------


def _link(key, exp: int) -> str:
    api_key = key[0]
    return make_token(signing_key=api_key.link_signing_key(), exp=exp, key_id=api_key.key_id,
                      project_id=str(api_key.project_id), turn_id=str(uuid.uuid4()), user_id="u")


@fuzz(150)
@given(data=st.data())
def test_widget_tokens(key, project, data):
    good = _link(key, int(time.time()) + 3600)
    token = data.draw(
        st.text(st.sampled_from("ABCxyz019-_.=+/%*\x00é"), min_size=1, max_size=80)
        | st.integers(0, len(good) - 1).map(lambda at: good[:at])
        | st.tuples(st.integers(0, len(good) - 1), st.sampled_from("AZaz09-_.")).map(
            lambda change: good[:change[0]] + change[1] + good[change[0] + 1:])
        | st.just(good),
    )

    response = Client().get(f"/f/{quote(token, safe='')}", HTTP_ACCEPT="application/json")

    tally.TRIED["widget tokens"] += 1
    assert response.status_code in (200, 403, 404, 410), response.content[:300]
    assert (response.status_code == 200) == (token == good)
    if response.status_code in (403, 410):
        assert response.json()["code"] in CODES


@fuzz(150)
@given(form=st.dictionaries(st.sampled_from(["rating", "comment", "correction"]) | st.text(max_size=5),
                            st.sampled_from(["up", "down", "", "sideways"]) | st.text(max_size=30), max_size=4),
       as_json=st.booleans(), raw=st.none() | bodies(objects(["rating", "comment", "correction"], ids=())))
def test_widget_submissions(key, project, settings, form, as_json, raw):
    settings.WIDGET_RATE_LIMIT_PER_LINK = settings.WIDGET_RATE_LIMIT_PER_IP = 10**6
    url = f"/f/{_link(key, int(time.time()) + 3600)}"
    before = Feedback.objects.for_project(project).count()

    # Accept names JSON too: the test client sends no Content-Type with an empty body.
    if raw is not None:
        response = Client().post(url, raw, content_type="application/json", HTTP_ACCEPT="application/json")
    elif as_json:
        response = Client().post(url, json.dumps(form), content_type="application/json", HTTP_ACCEPT="application/json")
    else:
        response = Client().post(url, form, HTTP_ACCEPT="application/json")

    answered("widget submissions", response)
    assert Feedback.objects.for_project(project).count() == before + (response.status_code == 200)


# --- the rule language ----------------------------------------------------------------------------

RULE_WORDS = st.sampled_from([
    "and", "or", "not", "(", ")", "[", "]", ",", ".", "==", "!=", "<", ">=", "in", "contains", "metadata", "signals",
    "question", "model", "variant", '"x"', "'y'", '"a\\"b"', '"\\q"', "1", "-2.5e3", "1e999", "true", "null", "foo",
    "plan", "\x00", '"a\x00b"', "\\", '"', "\n", "١٢", "thumbs_down",
])
RULE_TEXT = st.lists(RULE_WORDS, max_size=30).map(" ".join) | st.text(max_size=60)
CONTEXTS = st.fixed_dictionaries({
    "model": JSON_VALUES, "question": JSON_VALUES, "metadata": st.dictionaries(st.sampled_from(["plan", "x"]), JSON_VALUES),
    "signals": st.dictionaries(st.sampled_from(["thumbs_down", "x"]), JSON_VALUES),
})


@hypothesis_settings(max_examples=1500, deadline=None)
@given(text=RULE_TEXT, context=CONTEXTS)
def test_rule_language(text, context):
    tally.TRIED["rule texts"] += 1
    try:
        ast = parse(text)
    except RuleSyntaxError as error:
        assert 0 <= error.position <= len(text)
        return
    assert msgspec.json.decode(msgspec.json.encode(ast)) == ast  # storable as JSON as it is
    assert compile_rule(ast)(context) is matches(ast, context)


@fuzz(100)
@given(expression=RULE_TEXT, name=st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=20))
def test_rule_form(members, project, expression, name):
    client = Client()
    client.force_login(members[Role.OWNER].user)
    before = DetectionRule.objects.for_project(project).count()

    response = client.post(f"/orgs/acme/projects/{project.pk}/detectors/",
                           {"action": "rule_create", "name": name, "expression": expression, "signal_kind": "fuzzed"})

    tally.TRIED["rule forms"] += 1
    assert response.status_code in (302, 400), response.content[:300]
    assert DetectionRule.objects.for_project(project).count() == before + (response.status_code == 302)
