"""POST /api/v1/otlp/v1/traces: OTLP/HTTP trace ingestion (protobuf and JSON, gzip)."""

import base64
import gzip
import json
import urllib.error
import urllib.request
import uuid

import msgspec
import pytest
from django.urls import reverse
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from rest_framework.test import APIClient

from apps.traces import schemas, selectors
from apps.traces.models import Signal, Step, Turn
from apps.traces.otlp import codec as otlp_codec
from tests.factories.projects import api_key_with_secret

URL = "/api/v1/otlp/v1/traces"
PROTOBUF = "application/x-protobuf"
T0 = 1_767_261_600_000_000_000  # 2026-01-01T10:00:00Z in nanoseconds
MS = 1_000_000

pytestmark = pytest.mark.django_db


# --- building OTLP requests with the protobuf classes ------------------------------------------


def any_value(value) -> common_pb2.AnyValue:
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return common_pb2.AnyValue(int_value=value)
    if isinstance(value, float):
        return common_pb2.AnyValue(double_value=value)
    if isinstance(value, bytes):
        return common_pb2.AnyValue(bytes_value=value)
    if isinstance(value, (list, tuple)):
        return common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=[any_value(v) for v in value]))
    if isinstance(value, dict):
        return common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(values=key_values(value)))
    return common_pb2.AnyValue(string_value=value)


def key_values(attributes: dict) -> list:
    return [common_pb2.KeyValue(key=key, value=any_value(value)) for key, value in attributes.items()]


def make_span(trace, span_id, parent="", name="span", attributes=None, start=0, end=1, error=None, events=()):
    """``start``/``end`` in milliseconds after T0; ids as hex."""
    status = trace_pb2.Status()
    if error is not None:
        status = trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_ERROR, message=error)
    return trace_pb2.Span(
        trace_id=bytes.fromhex(trace), span_id=bytes.fromhex(span_id),
        parent_span_id=bytes.fromhex(parent) if parent else b"", name=name,
        kind=trace_pb2.Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=T0 + start * MS, end_time_unix_nano=T0 + end * MS,
        attributes=key_values(attributes or {}), status=status,
        events=[trace_pb2.Span.Event(name=n, time_unix_nano=T0, attributes=key_values(a)) for n, a in events],
    )


def export(*spans, service="support-bot") -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        resource={"attributes": key_values({"service.name": service})},
        scope_spans=[trace_pb2.ScopeSpans(scope={"name": "test"}, spans=list(spans))],
    )])


def otlp_json(message, *, integer_enums=True, numbers=False) -> dict:
    """OTLP JSON of a protobuf message: proto3 JSON, but hex ids (and optionally int64 as numbers)."""
    data = json_format.MessageToDict(message, use_integers_for_enums=integer_enums)

    def fix(node):
        if isinstance(node, dict):
            for key, value in list(node.items()):
                if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                    node[key] = base64.b64decode(value).hex()
                elif numbers and key in ("intValue", "startTimeUnixNano", "endTimeUnixNano", "timeUnixNano"):
                    node[key] = int(value)
                else:
                    fix(value)
        elif isinstance(node, list):
            for item in node:
                fix(item)

    fix(data)
    return data


def trace_hex() -> str:
    return uuid.uuid4().hex


def span_hex() -> str:
    return uuid.uuid4().hex[:16]


@pytest.fixture
def key(project):
    return api_key_with_secret(project=project)


@pytest.fixture
def client(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key[1]}")
    return client


def post_protobuf(client, message, **extra):
    return client.post(URL, data=message.SerializeToString(), content_type=PROTOBUF, **extra)


def post_json(client, data, **extra):
    body = data if isinstance(data, (bytes, str)) else json.dumps(data)
    return client.post(URL, data=body, content_type="application/json", **extra)


def turn_dict(project, turn_id) -> dict:
    return selectors.turn_as_dict(Turn.objects.for_project(project).get(id=turn_id))


def counts(project) -> tuple[int, int, int]:
    return (Turn.objects.for_project(project).count(), Step.objects.for_project(project).count(),
            Signal.objects.for_project(project).count())


def openinference_trace(trace):
    """An OpenInference agent: chain root, LLM, tool (failing), retriever and a nested LLM."""
    root, llm, tool, retriever, llm2 = (span_hex() for _ in range(5))
    spans = [
        make_span(trace, llm, root, "ChatOpenAI", start=10, end=200, attributes={
            "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini",
            "llm.input_messages.0.message.role": "system", "llm.input_messages.0.message.content": "Be brief.",
            "llm.input_messages.1.message.role": "user", "llm.input_messages.1.message.content": "Where is order 7?",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "track",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"order": 7}',
            "llm.token_count.prompt": 12, "llm.token_count.completion": 5,
        }),
        make_span(trace, tool, root, "track", start=210, end=300, error="ValueError: carrier down", attributes={
            "openinference.span.kind": "TOOL", "tool.name": "track", "tool.parameters": '{"order": 7}',
            "output.value": "unknown",
        }, events=[("exception", {"exception.type": "ValueError", "exception.message": "carrier down"})]),
        make_span(trace, retriever, root, "kb", start=310, end=350, attributes={
            "openinference.span.kind": "RETRIEVER", "input.value": "order 7 status",
            "retrieval.documents.0.document.id": "kb-1", "retrieval.documents.0.document.content": "Orders ship in 2 days.",
            "retrieval.documents.0.document.score": 0.8, "retrieval.documents.0.document.metadata": '{"lang": "en"}',
            "retrieval.documents.1.document.id": "kb-2", "retrieval.documents.1.document.score": 0.4,
        }),
        make_span(trace, llm2, retriever, "rerank-llm", start=320, end=340, attributes={
            "openinference.span.kind": "LLM", "llm.token_count.prompt": 3,
        }),
        make_span(trace, root, "", "agent", start=0, end=400, attributes={
            "openinference.span.kind": "CHAIN", "input.value": '{"input": "Where is my order 7?"}',
            "input.mime_type": "application/json", "output.value": "It ships tomorrow.",
            "session.id": "sess-1", "user.id": "user-9", "llm.prompt_template.version": "support-v3",
            "metadata": '{"plan": "pro"}', "tag.tags": ["beta", "eu"],
        }),
    ]
    return spans, {"root": root, "llm": llm, "tool": tool, "retriever": retriever, "llm2": llm2}


# --- protobuf, JSON, gzip ----------------------------------------------------------------------


def test_protobuf_export_maps_an_openinference_trace_to_a_turn_and_its_steps(client, project):
    trace = trace_hex()
    spans, ids = openinference_trace(trace)

    response = post_protobuf(client, export(*spans))

    assert response.status_code == 200
    assert response["Content-Type"] == PROTOBUF
    assert ExportTraceServiceResponse.FromString(response.content) == ExportTraceServiceResponse()
    turn = turn_dict(project, uuid.UUID(trace))
    assert turn["id"] == str(uuid.UUID(trace))
    assert (turn["question"], turn["agent_response"]) == ("Where is my order 7?", "It ships tomorrow.")
    assert (turn["session_id"], turn["user_id"], turn["prompt_version"], turn["model"]) == ("sess-1", "user-9", "support-v3", "gpt-4o-mini")
    assert (turn["source"], turn["timestamp"]) == ("otlp", "2026-01-01T10:00:00+00:00")
    assert turn["history"] == [{"role": "system", "content": "Be brief."}]
    assert turn["metadata"] == {
        "service.name": "support-bot", "otel.span_name": "agent", "plan": "pro", "tags": ["beta", "eu"],
        "gen_ai.usage.input_tokens": 15, "gen_ai.usage.output_tokens": 5,
    }
    assert turn["tool_calls"] == [{"name": "track", "arguments": {"order": 7}, "result": "unknown", "error": "ValueError: carrier down"}]
    assert turn["retrieved"] == [
        {"id": "kb-1", "content": "Orders ship in 2 days.", "score": 0.8, "metadata": {"lang": "en"}},
        {"id": "kb-2", "score": 0.4},
    ]
    steps = {step["id"]: step for step in turn["steps"]}
    assert set(steps) == {ids["llm"], ids["tool"], ids["retriever"], ids["llm2"]}
    llm = steps[ids["llm"]]
    assert (llm["kind"], llm["name"], llm["parent_id"], llm["error"]) == ("llm", "ChatOpenAI", ids["root"], "")
    assert (llm["started_at"], llm["ended_at"]) == ("2026-01-01T10:00:00.010000+00:00", "2026-01-01T10:00:00.200000+00:00")
    assert llm["input"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where is order 7?"}]
    assert llm["output"] == [{"role": "assistant", "content": "", "tool_calls": [{"name": "track", "arguments": {"order": 7}}]}]
    assert (llm["attributes"]["llm.token_count.prompt"], llm["attributes"]["llm.model_name"]) == (12, "gpt-4o-mini")
    tool = steps[ids["tool"]]
    assert (tool["kind"], tool["input"], tool["output"], tool["error"]) == ("tool", {"order": 7}, "unknown", "ValueError: carrier down")
    retriever = steps[ids["retriever"]]
    assert (retriever["kind"], retriever["input"], len(retriever["output"])) == ("retrieval", "order 7 status", 2)
    assert (steps[ids["llm2"]]["kind"], steps[ids["llm2"]]["parent_id"]) == ("llm", ids["retriever"])
    assert Signal.objects.for_project(project).count() == 0


@pytest.mark.parametrize(
    ("integer_enums", "numbers"), [(True, False), (False, True)], ids=["int-enums-string-ints", "named-enums-number-ints"]
)
def test_json_and_protobuf_encodings_store_identical_rows(client, project, integer_enums, numbers):
    trace = trace_hex()
    spans, _ = openinference_trace(trace)
    spans.append(make_span(trace, span_hex(), spans[-1].span_id.hex(), "misc", attributes={
        "flag": True, "ratio": 0.25, "count": 2**40, "blob": b"\x00\x01", "nested": {"a": [1, "x"]},
        "agentloop.signal.thumbs_down": True,
    }))
    message = export(*spans)
    data = otlp_json(message, integer_enums=integer_enums, numbers=numbers)

    from_protobuf = otlp_codec.decode(message.SerializeToString(), otlp_codec.PROTOBUF)
    from_json = otlp_codec.decode(json.dumps(data).encode(), otlp_codec.JSON)
    assert [s.as_tuple() for s in from_json.spans] == [s.as_tuple() for s in from_protobuf.spans]

    def snapshot():
        turn = turn_dict(project, uuid.UUID(trace))
        for volatile in ("received_at", "expires_at"):
            turn.pop(volatile)
        for signal in turn["signals"]:
            signal.pop("created_at")
        return turn

    assert post_protobuf(client, message).status_code == 200
    stored_from_protobuf = snapshot()
    for model in (Turn, Step, Signal):
        model.objects.for_project(project).delete()

    response = post_json(client, data)

    assert (response.status_code, response.json(), response["Content-Type"]) == (200, {}, "application/json")
    assert snapshot() == stored_from_protobuf
    assert stored_from_protobuf["signals"] == [
        {"kind": "thumbs_down", "value": True, "source": "otlp", "dedupe_key": ""}
    ]
    misc = next(step for step in stored_from_protobuf["steps"] if step["name"] == "misc")
    assert misc["attributes"] == {
        "flag": True, "ratio": 0.25, "count": 2**40, "blob": "AAE=", "nested": {"a": [1, "x"]},
        "agentloop.signal.thumbs_down": True,
    }


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_gzip_bodies_are_accepted(client, project, encoding):
    trace = trace_hex()
    message = export(make_span(trace, span_hex(), name="root", attributes={"input.value": "hi"}))
    body = message.SerializeToString() if encoding == "protobuf" else json.dumps(otlp_json(message)).encode()
    content_type = PROTOBUF if encoding == "protobuf" else "application/json"

    response = client.post(URL, data=gzip.compress(body), content_type=content_type, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 200
    assert Turn.objects.for_project(project).get().input == "hi"


# --- semantic conventions ----------------------------------------------------------------------


def test_genai_current_conventions(client, project):
    trace, root, chat, tool = trace_hex(), span_hex(), span_hex(), span_hex()
    input_messages = [
        {"role": "system", "parts": [{"type": "text", "content": "You are a travel agent."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Book Paris"}]},
        {"role": "assistant", "parts": [{"type": "text", "content": "Which dates?"}]},
        {"role": "user", "parts": [{"type": "text", "content": "May 3 to 5"}]},
    ]
    output_messages = [{"role": "assistant", "parts": [{"type": "text", "content": "Booked."}], "finish_reason": "stop"}]
    spans = [
        make_span(trace, chat, root, "chat gpt-4.1", start=5, end=50, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4.1", "gen_ai.response.model": "gpt-4.1-2025-04-14",
            "gen_ai.input.messages": json.dumps(input_messages[-1:]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [
                {"type": "tool_call", "id": "c1", "name": "book", "arguments": {"city": "Paris"}}]}]),
            "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20,
        }),
        make_span(trace, tool, root, "execute_tool book", start=60, end=80, attributes={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "book",
            "gen_ai.tool.call.arguments": '{"city": "Paris"}', "gen_ai.tool.call.result": '{"ok": true}',
        }),
        make_span(trace, root, "", "invoke_agent travel", start=0, end=100, attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4.1", "gen_ai.conversation.id": "conv-1", "enduser.id": "u-5",
            "gen_ai.input.messages": json.dumps(input_messages), "gen_ai.output.messages": json.dumps(output_messages),
            "gen_ai.usage.input_tokens": 150, "gen_ai.usage.output_tokens": 30,
            "agentloop.variant": "B", "agentloop.prompt_version": "travel-v2",
        }),
    ]

    assert post_protobuf(client, export(*spans)).status_code == 200

    turn = turn_dict(project, uuid.UUID(trace))
    assert (turn["question"], turn["agent_response"]) == ("May 3 to 5", "Booked.")
    assert turn["history"] == [
        {"role": "system", "content": "You are a travel agent."}, {"role": "user", "content": "Book Paris"},
        {"role": "assistant", "content": "Which dates?"},
    ]
    assert (turn["session_id"], turn["user_id"], turn["model"], turn["variant"], turn["prompt_version"]) == (
        "conv-1", "u-5", "gpt-4.1", "B", "travel-v2")
    assert turn["metadata"] == {
        "service.name": "support-bot", "otel.span_name": "invoke_agent travel", "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 150, "gen_ai.usage.output_tokens": 30,
    }
    assert turn["tool_calls"] == [{"name": "book", "arguments": {"city": "Paris"}, "result": {"ok": True}}]
    steps = {step["id"]: step for step in turn["steps"]}
    assert steps[chat]["kind"] == "llm"
    assert steps[chat]["input"] == [{"role": "user", "content": "May 3 to 5"}]
    assert steps[chat]["output"] == [{"role": "assistant", "content": "", "tool_calls": [{"name": "book", "arguments": {"city": "Paris"}}]}]
    assert (steps[tool]["kind"], steps[tool]["input"], steps[tool]["output"]) == ("tool", {"city": "Paris"}, {"ok": True})


def test_genai_deprecated_conventions(client, project):
    trace, root, completion, tool = trace_hex(), span_hex(), span_hex(), span_hex()
    spans = [
        make_span(trace, completion, root, "openai.chat", start=1, end=9, attributes={
            "gen_ai.system": "openai", "gen_ai.request.model": "gpt-3.5-turbo", "llm.request.type": "chat",
            "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "ping",
            "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "pong",
            "gen_ai.usage.prompt_tokens": 7, "gen_ai.usage.completion_tokens": 2,
        }),
        make_span(trace, tool, root, "lookup", start=10, end=12, attributes={"traceloop.span.kind": "tool"}),
        make_span(trace, root, "", "workflow", end=20, attributes={
            "gen_ai.system": "openai", "gen_ai.request.model": "gpt-3.5-turbo",
            "gen_ai.prompt": json.dumps([{"role": "system", "content": "Be nice."}, {"role": "user", "content": "Hello?"}]),
            "gen_ai.completion": "Hi there.", "gen_ai.usage.prompt_tokens": 11, "gen_ai.usage.completion_tokens": 4,
        }),
    ]

    assert post_protobuf(client, export(*spans)).status_code == 200

    turn = turn_dict(project, uuid.UUID(trace))
    assert (turn["question"], turn["agent_response"], turn["model"]) == ("Hello?", "Hi there.", "gpt-3.5-turbo")
    assert turn["history"] == [{"role": "system", "content": "Be nice."}]
    assert turn["metadata"] == {
        "service.name": "support-bot", "otel.span_name": "workflow", "gen_ai.system": "openai",
        "gen_ai.usage.input_tokens": 11, "gen_ai.usage.output_tokens": 4,
    }
    steps = {step["id"]: step for step in turn["steps"]}
    assert (steps[completion]["kind"], steps[completion]["input"], steps[completion]["output"]) == (
        "llm", [{"role": "user", "content": "ping"}], [{"role": "assistant", "content": "pong"}])
    assert steps[tool]["kind"] == "tool"


def test_deprecated_prompt_and_completion_events_are_read(client, project):
    trace = trace_hex()
    root = make_span(trace, span_hex(), name="chat", attributes={"gen_ai.operation.name": "chat"}, events=[
        ("gen_ai.content.prompt", {"gen_ai.prompt": json.dumps([{"role": "user", "content": "2+2?"}])}),
        ("gen_ai.content.completion", {"gen_ai.completion": json.dumps([{"role": "assistant", "content": "4"}])}),
    ])

    assert post_protobuf(client, export(root)).status_code == 200

    turn = Turn.objects.for_project(project).get()
    assert (turn.input, turn.output) == ("2+2?", "4")


def test_question_and_answer_fall_back_to_the_first_and_last_llm_child(client, project):
    trace, root = trace_hex(), span_hex()
    spans = [
        make_span(trace, span_hex(), root, "first", start=1, end=2, attributes={
            "openinference.span.kind": "LLM", "llm.model_name": "m-1",
            "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "first question",
            "llm.output_messages.0.message.role": "assistant", "llm.output_messages.0.message.content": "draft",
        }),
        make_span(trace, span_hex(), root, "second", start=3, end=4, attributes={
            "openinference.span.kind": "LLM",
            "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "rewrite",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.contents.0.message_content.type": "text",
            "llm.output_messages.0.message.contents.0.message_content.text": "final answer",
        }),
        make_span(trace, root, "", "agent", end=5, attributes={"openinference.span.kind": "AGENT"}),
    ]

    assert post_protobuf(client, export(*spans)).status_code == 200

    turn = Turn.objects.for_project(project).get()
    assert (turn.input, turn.output, turn.model) == ("first question", "final answer", "m-1")


def test_agentloop_signal_attributes_become_signals_of_the_turn(client, project):
    trace, root, child = trace_hex(), span_hex(), span_hex()
    spans = [
        make_span(trace, child, root, "step", attributes={"agentloop.signal.escalation": "human", "agentloop.signal.bad kind": 1}),
        make_span(trace, span_hex(), root, "again", attributes={"agentloop.signal.bad kind": 2}),
        make_span(trace, root, "", "agent", attributes={"agentloop.signal.thumbs_down": True, "agentloop.signal.rating": 2}),
    ]

    response = post_json(client, otlp_json(export(*spans)))

    assert response.status_code == 200
    assert response.json() == {"partialSuccess": {"rejectedSpans": 0, "errorMessage": "Signal kind 'bad kind' is invalid; it was skipped."}}
    assert sorted(Signal.objects.for_project(project).values_list("turn_id", "kind", "value", "source")) == sorted([
        (uuid.UUID(trace), "escalation", "human", "otlp"),
        (uuid.UUID(trace), "rating", 2, "otlp"),
        (uuid.UUID(trace), "thumbs_down", True, "otlp"),
    ])


# --- arrival order and idempotency -------------------------------------------------------------


def test_children_exported_before_their_root_wait_then_attach(client, project):
    trace = trace_hex()
    spans, ids = openinference_trace(trace)
    children, root = spans[:-1], spans[-1]

    first = post_protobuf(client, export(*children))

    assert first.status_code == 200
    assert counts(project) == (0, 4, 0)
    assert client.get(f"/api/v1/turns/{uuid.UUID(trace)}").status_code == 404

    second = post_protobuf(client, export(root))

    assert second.status_code == 200
    turn = client.get(f"/api/v1/turns/{uuid.UUID(trace)}").json()
    assert {step["id"] for step in turn["steps"]} == {ids["llm"], ids["tool"], ids["retriever"], ids["llm2"]}
    assert turn["model"] == "gpt-4o-mini"
    assert [call["name"] for call in turn["tool_calls"]] == ["track"]
    assert [document["id"] for document in turn["retrieved"]] == ["kb-1", "kb-2"]
    assert turn["metadata"]["gen_ai.usage.input_tokens"] == 15


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_re_exporting_the_same_spans_stores_each_once(client, project, encoding):
    trace = trace_hex()
    spans, _ = openinference_trace(trace)
    spans.append(make_span(trace, span_hex(), spans[-1].span_id.hex(), "signal", attributes={"agentloop.signal.escalation": True}))
    message = export(*spans)

    def send():
        if encoding == "protobuf":
            return post_protobuf(client, message)
        return post_json(client, otlp_json(message))

    first = send()
    after_first = counts(project)
    second = send()

    assert (first.status_code, second.status_code) == (200, 200)
    assert after_first == (1, 5, 1)
    assert counts(project) == after_first


def test_a_span_repeated_inside_one_export_is_stored_once(client, project):
    trace, root = trace_hex(), span_hex()
    child = make_span(trace, span_hex(), root, "child")

    response = post_protobuf(client, export(child, child, make_span(trace, root, name="root")))

    assert response.status_code == 200
    assert counts(project) == (1, 1, 0)


def test_a_trace_id_another_project_uses_is_an_unrelated_turn_here(client, project, other_project):
    shared, child = trace_hex(), span_hex()
    other_client = APIClient()
    other_client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_with_secret(project=other_project)[1]}")
    assert post_protobuf(other_client, export(make_span(shared, child, name="theirs"))).status_code == 200
    before = turn_dict(other_project, uuid.UUID(shared))
    root = span_hex()

    response = post_protobuf(client, export(make_span(shared, child, root, "child"), make_span(shared, root, name="mine")))

    assert response.status_code == 200
    assert ExportTraceServiceResponse.FromString(response.content) == ExportTraceServiceResponse()
    assert counts(project) == (1, 1, 0)
    assert [step["name"] for step in turn_dict(project, uuid.UUID(shared))["steps"]] == ["child"]
    assert turn_dict(other_project, uuid.UUID(shared)) == before


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (PROTOBUF, b"\xff\xff\xff\xff"),
        (PROTOBUF, b"\x0a\x05abc"),
        ("application/json", b"{not json"),
        ("application/json", b""),
        ("application/json", b"[]"),
        ("application/json", b'{"resourceSpans": {"a": 1}}'),
        ("application/json", b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "5b8efff798038103d269b633813fc60c", '
         b'"spanId": "eee19b7ec3c1b174", "startTimeUnixNano": "soon"}]}]}]}'),
    ],
    ids=["garbage-protobuf", "truncated-protobuf", "malformed-json", "empty-json", "json-array", "wrong-type", "bad-integer"],
)
def test_malformed_bodies_are_400_invalid_otlp(client, project, content_type, body):
    response = client.post(URL, data=body, content_type=content_type)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_otlp"
    assert counts(project) == (0, 0, 0)


ROOT_SPAN = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "root"}


def spans_json(span: dict, **resource_spans) -> dict:
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}], **resource_spans}]}


@pytest.mark.parametrize("body", [
    {"resourceSpans": None},
    {"resourceSpans": [None]},
    {"resourceSpans": [{"scopeSpans": None}]},
    {"resourceSpans": [{"resource": None, "scopeSpans": []}]},
    {"resourceSpans": [{"resource": {"attributes": None}}]},
    {"resourceSpans": [{"scopeSpans": [{"spans": None}]}]},
    spans_json({**ROOT_SPAN, "name": None}),
    spans_json({**ROOT_SPAN, "traceId": None}),
    spans_json({**ROOT_SPAN, "status": None}),
    spans_json({**ROOT_SPAN, "events": None}),
    spans_json({**ROOT_SPAN, "attributes": None}),
    spans_json({**ROOT_SPAN, "attributes": [{"key": None, "value": {"stringValue": "x"}}]}),
    spans_json({**ROOT_SPAN, "attributes": [{"key": "k", "value": None}]}),
    spans_json({**ROOT_SPAN, "attributes": [{"key": "k", "value": {"stringValue": None}}]}),
    spans_json({**ROOT_SPAN, "attributes": [{"key": "k", "value": {"arrayValue": {"values": None}}}]}),
], ids=lambda body: json.dumps(body)[-60:])
def test_null_is_refused_for_every_otlp_json_field(client, project, body):
    response = post_json(client, body)

    assert (response.status_code, response.json()["code"]) == (400, "invalid_otlp")
    assert response.json()["message"].startswith("The body is not an OTLP JSON ExportTraceServiceRequest: Expected `")
    assert counts(project) == (0, 0, 0)


def test_an_empty_otlp_json_export_is_200(client):
    response = post_json(client, {})

    assert (response.status_code, response.json()) == (200, {})


@pytest.mark.parametrize(("field", "value", "message"), [
    ("startTimeUnixNano", "99999999999999999999999",
     "startTimeUnixNano 99999999999999999999999 is out of range (0 to 18446744073709551615)."),
    ("endTimeUnixNano", -1, "endTimeUnixNano -1 is out of range (0 to 18446744073709551615)."),
    ("attributes", [{"key": "k", "value": {"intValue": str(2**63)}}],
     "intValue 9223372036854775808 is out of range (-9223372036854775808 to 9223372036854775807)."),
    ("attributes", [{"key": "k", "value": {"doubleValue": "lots"}}], "doubleValue 'lots' is not a number."),
])
def test_otlp_json_integers_must_fit_their_protobuf_type(client, project, field, value, message):
    response = post_json(client, spans_json({**ROOT_SPAN, field: value}))

    assert (response.status_code, response.json()) == (400, {"code": "invalid_otlp", "message": message, "field": None})
    assert counts(project) == (0, 0, 0)


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_nan_and_infinite_doubles_are_kept_as_their_names(client, project, encoding):
    trace, root = trace_hex(), span_hex()
    message = export(make_span(trace, root, name="root"), make_span(trace, span_hex(), root, name="tool", attributes={
        "nan": float("nan"), "up": float("inf"), "down": float("-inf"), "fine": 0.5,
    }))

    response = post_protobuf(client, message) if encoding == "protobuf" else post_json(client, otlp_json(message))

    assert response.status_code == 200
    attributes = Step.objects.for_project(project).get().attributes
    assert [attributes[name] for name in ("nan", "up", "down", "fine")] == ["NaN", "Infinity", "-Infinity", 0.5]


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2)."""
    length, size = b"", len(payload)
    while True:
        length += bytes([(size & 0x7F) | (0x80 if size > 0x7F else 0)])
        size >>= 7
        if not size:
            return bytes([number << 3 | 2]) + length + payload


def test_protobuf_attributes_nested_too_deep_are_400(client, project):
    # Built by hand: the protobuf classes themselves refuse to hold a value this deep.
    value = common_pb2.AnyValue(string_value="leaf").SerializeToString()
    for _ in range(200):  # AnyValue.kvlist_value (6) → KeyValueList.values (1) → KeyValue{key (1), value (2)}
        value = _field(6, _field(1, _field(1, b"k") + _field(2, value)))
    span = _field(1, bytes.fromhex(trace_hex())) + _field(2, bytes.fromhex(span_hex())) + _field(5, b"root")
    body = _field(1, _field(2, _field(2, span + _field(9, _field(1, b"deep") + _field(2, value)))))

    response = client.post(URL, data=body, content_type=PROTOBUF)

    assert (response.status_code, response.json()["code"]) == (400, "invalid_otlp")
    assert counts(project) == (0, 0, 0)


def test_unsupported_content_type_is_415(client, project):
    response = client.post(URL, data="resourceSpans", content_type="text/plain")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_corrupt_gzip_is_400(client):
    response = client.post(URL, data=b"not gzip", content_type=PROTOBUF, HTTP_CONTENT_ENCODING="gzip")

    assert (response.status_code, response.json()["code"]) == (400, "invalid_gzip")


def test_errors_are_json_even_when_the_client_accepts_only_protobuf(client):
    response = client.post(URL, data=b"\xff", content_type=PROTOBUF, HTTP_ACCEPT=PROTOBUF)

    assert (response.status_code, response.json()["code"]) == (400, "invalid_otlp")


def test_an_empty_protobuf_export_is_200(client):
    response = post_protobuf(client, ExportTraceServiceRequest())

    assert (response.status_code, response.content) == (200, b"")


def test_spans_with_unusable_ids_are_rejected_one_by_one(client, project):
    good = make_span(trace_hex(), span_hex(), name="good")
    data = otlp_json(export(good, make_span(trace_hex(), span_hex(), name="bad"), make_span(trace_hex(), span_hex(), name="zero")))
    spans = data["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans[1]["traceId"] = "xyz"
    spans[2]["spanId"] = "0" * 16

    response = post_json(client, data)

    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedSpans"] == 2
    assert list(Turn.objects.for_project(project).values_list("metadata__otel.span_name", flat=True)) == ["good"]


def test_over_long_values_are_truncated_not_rejected(client, project):
    trace, root = trace_hex(), span_hex()
    many = {f"attr.{n}": n for n in range(150)}
    spans = [
        make_span(trace, span_hex(), root, "n" * 300, attributes=many, error="e" * (schemas.MAX_TEXT + 10)),
        make_span(trace, root, name="root", attributes={
            "input.value": "q" * (schemas.MAX_TEXT + 1), "session.id": "s" * 500, "agentloop.variant": "v" * 300,
            "metadata": json.dumps({f"k{n}": n for n in range(150)}),
        }),
    ]

    response = post_protobuf(client, export(*spans))

    assert response.status_code == 200
    turn = Turn.objects.for_project(project).get()
    assert (len(turn.input), len(turn.session_id), len(turn.variant), len(turn.metadata)) == (schemas.MAX_TEXT, 200, 100, 100)
    step = Step.objects.for_project(project).get()
    assert (len(step.name), len(step.error), len(step.attributes)) == (200, schemas.MAX_TEXT, 100)
    assert step.attributes["agentloop.dropped_attributes"] == 51
    stored = selectors.turn_as_dict(turn)
    msgspec.convert({k: stored[k] for k in ("question", "session_id", "variant", "metadata", "history")}, schemas.TurnIn)


def test_nul_characters_are_stripped(client, project):
    message = export(make_span(trace_hex(), span_hex(), name="ro\x00ot", attributes={"input.value": "a\x00b", "k\x00": ["x\x00"]}))

    assert post_json(client, otlp_json(message)).status_code == 200

    turn = Turn.objects.for_project(project).get()
    assert (turn.input, turn.metadata["otel.span_name"]) == ("ab", "root")


@pytest.mark.parametrize("authorization", [None, "Bearer al_sk_nope_wrong", "Basic abc"])
def test_a_missing_or_wrong_key_is_401_and_stores_nothing(project, authorization):
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)

    response = post_protobuf(client, export(make_span(trace_hex(), span_hex(), name="root")))

    assert response.status_code == 401
    assert counts(project) == (0, 0, 0)


def test_the_route_is_named_and_documented_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    assert reverse("api-otlp-traces") == URL
    operation = schema["paths"][URL]["post"]
    assert operation["operationId"] == "otlp_traces_export"
    assert operation["requestBody"]["content"][PROTOBUF]["schema"]["format"] == "binary"
    assert "application/json" in operation["requestBody"]["content"]
    assert set(operation["responses"]["200"]["content"]) == {PROTOBUF, "application/json"}


# --- end to end with the official OpenTelemetry SDK and exporter -------------------------------


def _record_agent_run(tracer):
    from opentelemetry.trace import Status, StatusCode

    with tracer.start_as_current_span("support-agent") as root:
        root.set_attributes({
            "openinference.span.kind": "AGENT", "input.value": "Cancel my plan", "session.id": "sess-e2e",
            "user.id": "user-e2e", "agentloop.signal.escalation": True,
        })
        with tracer.start_as_current_span("llm") as llm:
            llm.set_attributes({
                "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o",
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": "Your plan is cancelled.",
            })
        with tracer.start_as_current_span("cancel_plan") as tool:
            tool.set_attributes({"openinference.span.kind": "TOOL", "tool.name": "cancel_plan", "tool.parameters": '{"plan": "pro"}'})
            tool.record_exception(RuntimeError("billing offline"))
            tool.set_status(Status(StatusCode.ERROR, "billing offline"))
        return root.get_span_context().trace_id


def _assert_agent_run_stored(project, trace_id: int):
    turn = Turn.objects.for_project(project).get(id=uuid.UUID(int=trace_id))
    assert (turn.input, turn.output, turn.session_id, turn.end_user_id, turn.model, turn.source) == (
        "Cancel my plan", "Your plan is cancelled.", "sess-e2e", "user-e2e", "gpt-4o", "otlp")
    assert turn.metadata["service.name"] == "e2e-agent"
    assert turn.tool_calls == [{"name": "cancel_plan", "arguments": {"plan": "pro"}, "result": None, "error": "billing offline"}]
    steps = {step.name: step for step in Step.objects.for_project(project).filter(turn_id=turn.id)}
    assert set(steps) == {"llm", "cancel_plan"}
    assert (steps["llm"].kind, steps["cancel_plan"].kind, steps["cancel_plan"].error) == ("llm", "tool", "billing offline")
    assert steps["llm"].parent_span_id == steps["cancel_plan"].parent_span_id
    assert list(Signal.objects.for_project(project).filter(turn_id=turn.id).values_list("kind", "value", "source")) == [
        ("escalation", True, "otlp")
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("processor", ["simple", "batch"])
def test_official_sdk_protobuf_exporter_end_to_end(live_server, project, processor):
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    _, secret = api_key_with_secret(project=project)
    exporter = OTLPSpanExporter(
        endpoint=f"{live_server.url}{URL}", headers={"Authorization": f"Bearer {secret}"},
        compression=Compression.Gzip if processor == "batch" else Compression.NoCompression, timeout=10,
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "e2e-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter) if processor == "simple" else BatchSpanProcessor(exporter))

    trace_id = _record_agent_run(provider.get_tracer("e2e"))
    assert provider.force_flush(10_000)
    provider.shutdown()

    _assert_agent_run_stored(project, trace_id)


@pytest.mark.django_db(transaction=True)
def test_official_sdk_spans_as_otlp_json_end_to_end(live_server, project):
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    _, secret = api_key_with_secret(project=project)
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "e2e-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace_id = _record_agent_run(provider.get_tracer("e2e"))
    body = json.dumps(otlp_json(encode_spans(memory.get_finished_spans()))).encode()
    request = urllib.request.Request(
        f"{live_server.url}{URL}", data=body, method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {secret}"},
    )

    with urllib.request.urlopen(request, timeout=10) as response:
        status, answer = response.status, json.loads(response.read())

    assert (status, answer) == (200, {})
    _assert_agent_run_stored(project, trace_id)
    wrong = urllib.request.Request(f"{live_server.url}{URL}", data=body, method="POST",
                                   headers={"Content-Type": "application/json", "Authorization": "Bearer al_sk_x_y"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(wrong, timeout=10)
    assert refused.value.code == 401
