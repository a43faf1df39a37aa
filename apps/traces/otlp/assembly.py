"""A trace's root span → its turn: question, answer, history, model, session and user from the
root, else from its LLM children; ``tool_calls`` and ``retrieved`` collected from its tool and
retrieval children (those in the same request and those stored earlier, see otlp/ingest.py).
Pure functions: no database access. Over-long text is truncated, never rejected.
"""

from __future__ import annotations

import uuid

from apps.traces.otlp.codec import SpanData
from apps.traces.otlp.mapping import (
    content_text, dump, maybe_json, span_error, span_input, span_kind, span_output, span_time,
)
from apps.traces.schemas import MAX_KEYS, MAX_LIST, MAX_SHORT, MAX_TEXT, TurnIn

MAX_VARIANT = 100
_USER_ROLES = {"user", "human"}
_ASSISTANT_ROLES = {"assistant", "ai", "model", "bot"}
_QUESTION_KEYS = ("question", "input", "query", "prompt", "message", "text", "content")
_ANSWER_KEYS = ("answer", "output", "response", "result", "content", "text", "message")
_INPUT_TOKENS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
_MODEL_NAMES = ("llm.model_name", "gen_ai.request.model", "gen_ai.response.model")
_OUTPUT_TOKENS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion")


class Child:
    """A non-root span as the turn summary needs it (from this request or already stored)."""

    __slots__ = ("span_id", "kind", "name", "started_at", "input", "output", "error", "attributes")

    def __init__(self, span_id, kind, name, started_at, input, output, error, attributes):
        self.span_id, self.kind, self.name, self.started_at = span_id, kind, name, started_at
        self.input, self.output, self.error, self.attributes = input, output, error, attributes


def _pick_text(value, *, wanted, keys, again) -> str:
    """Text from an input or output: the last matching message, a known key, or the dump."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        messages = [m for m in value if isinstance(m, dict)]
        for message in reversed(messages):
            if wanted(message):
                return content_text(message.get("content", message.get("parts")))
        return dump(value)
    if isinstance(value, dict):
        for key in keys:
            if isinstance(value.get(key), str):
                return value[key]
        if isinstance(value.get("messages"), list):
            return again(value["messages"])
    return dump(value)


def _question(value) -> str:
    """The user's question in an input: the last user message, a known key, or the text itself."""
    return _pick_text(
        value, keys=_QUESTION_KEYS, again=_question,
        wanted=lambda message: str(message.get("role", "")).lower() in _USER_ROLES,
    )


def _answer(value) -> str:
    """The agent's answer in an output: the last assistant message, a known key, or the text."""
    return _pick_text(
        value, keys=_ANSWER_KEYS, again=_answer,
        wanted=lambda message: "role" not in message or str(message.get("role", "")).lower() in _ASSISTANT_ROLES,
    )


def _history(value) -> list:
    """The messages before the final user message of an input (the conversation so far)."""
    if not isinstance(value, list):
        return []
    for index in range(len(value) - 1, -1, -1):
        message = value[index]
        if isinstance(message, dict) and str(message.get("role", "")).lower() in _USER_ROLES:
            return value[:index][:MAX_LIST]
    return []


def _short(value, limit: int = MAX_SHORT) -> str:
    if value is None:
        return ""
    return (value if isinstance(value, str) else dump(value))[:limit]


def _first(attributes: dict, names: tuple[str, ...]):
    for name in names:
        value = attributes.get(name)
        if value is not None and value != "":
            return value
    return None


def _from_family(attributes: dict, family: list[Child], names: tuple[str, ...]):
    """The root's attribute, else the first child's (LLM children first)."""
    value = _first(attributes, names)
    if value is not None:
        return value
    for child in sorted(family, key=lambda c: c.kind != "llm"):
        value = _first(child.attributes or {}, names)
        if value is not None:
            return value
    return None


def _usage(attributes: dict, llm_children: list[Child], names: tuple[str, ...]) -> int | None:
    value = _first(attributes, names)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    counts = [_first(child.attributes or {}, names) for child in llm_children]
    counts = [int(c) for c in counts if isinstance(c, (int, float)) and not isinstance(c, bool)]
    return sum(counts) if counts else None


def root_turn(span: SpanData, indexed: dict, family: list[Child]) -> TurnIn:
    attributes = span.attributes
    kind = span_kind(attributes)
    root_input = span_input(kind, attributes, indexed, span.events)
    root_output = span_output(kind, attributes, indexed, span.events)
    llm_children = [child for child in family if child.kind == "llm"]

    question = _question(root_input)
    history = _history(root_input)
    if not question and llm_children:
        question = _question(llm_children[0].input)
    if not history and llm_children:
        history = _history(llm_children[0].input)
    answer = _answer(root_output)
    if not answer and llm_children:
        answer = _answer(llm_children[-1].output)

    metadata = _turn_metadata(span, attributes, family, llm_children)
    return TurnIn(
        id=uuid.UUID(span.trace_id),
        question=question[:MAX_TEXT],
        agent_response=answer[:MAX_TEXT],
        user_id=_short(_from_family(attributes, family, ("user.id", "enduser.id"))),
        session_id=_short(_from_family(attributes, family, ("session.id", "gen_ai.conversation.id"))),
        history=history,
        prompt_version=_short(_first(attributes, ("agentloop.prompt_version", "llm.prompt_template.version"))),
        model=_short(_from_family(attributes, family, _MODEL_NAMES)),
        retrieved=_retrieved(family),
        tool_calls=_tool_calls(family),
        metadata=metadata,
        variant=_short(attributes.get("agentloop.variant"), MAX_VARIANT),
        timestamp=span_time(span.start_ns),
    )


def _turn_metadata(span: SpanData, attributes: dict, family: list[Child], llm_children: list[Child]) -> dict:
    metadata = {}
    service = span.resource.get("service.name")
    if service is not None:
        metadata["service.name"] = service
    if span.name:
        metadata["otel.span_name"] = span.name
    for name in ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.response.model"):
        if attributes.get(name) is not None:
            metadata[name] = attributes[name]
    input_tokens = _usage(attributes, llm_children, _INPUT_TOKENS)
    output_tokens = _usage(attributes, llm_children, _OUTPUT_TOKENS)
    if input_tokens is not None:
        metadata["gen_ai.usage.input_tokens"] = input_tokens
    if output_tokens is not None:
        metadata["gen_ai.usage.output_tokens"] = output_tokens
    tags = attributes.get("tag.tags")
    if tags is not None:
        metadata["tags"] = tags
    error = span_error(span)
    if error:
        metadata["error"] = error
    custom = maybe_json(attributes.get("metadata"))
    if isinstance(custom, dict):
        for key, value in custom.items():
            if len(metadata) >= MAX_KEYS:
                break
            metadata.setdefault(str(key), value)
    elif custom is not None:
        metadata.setdefault("metadata", custom)
    return metadata


def _retrieved(family: list[Child]) -> list:
    documents = []
    for child in family:
        if child.kind == "retrieval" and isinstance(child.output, list):
            documents.extend(child.output)
    return documents[:MAX_LIST]


def _tool_calls(family: list[Child]) -> list:
    calls = []
    for child in family:
        if child.kind != "tool":
            continue
        attributes = child.attributes or {}
        name = _first(attributes, ("tool.name", "gen_ai.tool.name")) or child.name
        call = {"name": _short(name), "arguments": child.input, "result": child.output}
        if child.error:
            call["error"] = child.error
        calls.append(call)
    return calls[:MAX_LIST]

