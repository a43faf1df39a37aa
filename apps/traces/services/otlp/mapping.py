"""OTLP span attributes → AgentLoop steps and turns (OpenInference and OpenTelemetry GenAI,
current and deprecated names). Pure functions over decoded spans: no database access.

Over-long text is truncated rather than rejected (OTLP clients cannot fix one item), and every
limit of apps/traces/schemas.py is applied while the structs are built.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

import msgspec

from apps.traces.otlp_codec import STATUS_ERROR, SpanData
from apps.traces.schemas import KIND_PATTERN, MAX_KEYS, MAX_LIST, MAX_SHORT, MAX_TEXT, StepIn, TurnIn

SOURCE = "otlp"
SIGNAL_PREFIX = "agentloop.signal."
MAX_VARIANT = 100
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
KIND_RE = re.compile(KIND_PATTERN)
_OPENINFERENCE_KINDS = {"LLM": "llm", "TOOL": "tool", "RETRIEVER": "retrieval"}
_GENAI_OPERATIONS = {"chat": "llm", "text_completion": "llm", "generate_content": "llm", "execute_tool": "tool"}
# Indexed (flattened) attributes that describe one list each.
_INPUT_MESSAGES = "llm.input_messages."
_OUTPUT_MESSAGES = "llm.output_messages."
_DOCUMENTS = "retrieval.documents."
_PROMPTS = "gen_ai.prompt."  # OpenLLMetry: gen_ai.prompt.0.role / .content
_COMPLETIONS = "gen_ai.completion."
_INDEXED = (_INPUT_MESSAGES, _OUTPUT_MESSAGES, _DOCUMENTS, _PROMPTS, _COMPLETIONS, SIGNAL_PREFIX)
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




def _time(nanoseconds: int) -> dt.datetime | None:
    return EPOCH + dt.timedelta(microseconds=nanoseconds // 1000) if nanoseconds > 0 else None


def indexed_attributes(attributes: dict) -> dict[str, dict]:
    """Attributes under the list prefixes, grouped: ``{prefix: {rest of the key: value}}``."""
    groups: dict[str, dict] = {}
    for key, value in attributes.items():
        if key.startswith(_INDEXED):
            for prefix in _INDEXED:
                if key.startswith(prefix):
                    groups.setdefault(prefix, {})[key[len(prefix):]] = value
                    break
    return groups


def _items(flat: dict, wrapper: str) -> list[dict]:
    """``{"0.message.role": "user", …}`` → ``[{"role": "user", …}]`` ordered by index."""
    items: dict[int, dict] = {}
    strip = wrapper + "."
    for key, value in flat.items():
        index, _, rest = key.partition(".")
        if not index.isdigit() or not rest:
            continue
        if rest.startswith(strip):
            rest = rest[len(strip):]
        items.setdefault(int(index), {})[rest] = value
    return [items[index] for index in sorted(items)]


def _maybe_json(value):
    """JSON text → its value; anything else unchanged."""
    if isinstance(value, str) and value[:1] in ("{", "[", '"'):
        try:
            return msgspec.json.decode(value)
        except msgspec.DecodeError:
            return value
    return value


def _value(attributes: dict, name: str):
    """OpenInference ``input.value`` / ``output.value``, decoded when its mime type says JSON."""
    value = attributes.get(f"{name}.value")
    if value is None:
        return None
    mime = attributes.get(f"{name}.mime_type")
    if mime == "application/json" or (mime is None and isinstance(value, str) and value[:1] in ("{", "[")):
        return _maybe_json(value)
    return value


def _text(content) -> str:
    """Message content as text: a string, OpenAI content parts, or GenAI parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and part.get("type", "text") == "text":
                text = part.get("content", part.get("text"))
                if isinstance(text, str):
                    texts.append(text)
        return "\n".join(texts)
    return _dump(content)


def _dump(value) -> str:
    return value if isinstance(value, str) else msgspec.json.encode(value).decode()


def _tool_call(name, arguments) -> dict:
    return {"name": "" if name is None else str(name), "arguments": _maybe_json(arguments)}


def _message(raw) -> dict | None:
    """One chat message in a common shape: ``{"role", "content"[, "tool_calls", "tool_call_id"]}``."""
    if not isinstance(raw, dict):
        return {"role": "", "content": _text(raw)} if raw is not None else None
    message = {"role": str(raw.get("role") or ""), "content": ""}
    tool_calls = []
    parts = raw.get("parts")
    if isinstance(parts, list):  # GenAI gen_ai.input.messages / gen_ai.output.messages
        message["content"] = _text(parts)
        for part in parts:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "tool_call":
                tool_calls.append(_tool_call(part.get("name"), part.get("arguments")))
            elif part.get("type") == "tool_call_response" and not message["content"]:
                message["content"] = _text(part.get("response"))
    else:
        message["content"] = _text(raw.get("content"))
    for call in raw.get("tool_calls") or ():  # OpenAI: {"function": {"name", "arguments"}}
        if isinstance(call, dict):
            function = call.get("function") if isinstance(call.get("function"), dict) else call
            tool_calls.append(_tool_call(function.get("name"), function.get("arguments")))
    if tool_calls:
        message["tool_calls"] = tool_calls
    if raw.get("tool_call_id"):
        message["tool_call_id"] = str(raw["tool_call_id"])
    return message


def _under(fields: dict, prefix: str) -> dict:
    return {key[len(prefix):]: value for key, value in fields.items() if key.startswith(prefix)}


def _openinference_messages(flat: dict) -> list[dict]:
    messages = []
    for fields in _items(flat, "message"):
        message = {"role": str(fields.get("role") or ""), "content": fields.get("content")}
        if message["content"] is None:
            contents = _items(_under(fields, "contents."), "message_content")
            texts = [str(c["text"]) for c in contents if c.get("type", "text") == "text" and "text" in c]
            message["content"] = "\n".join(texts)
        elif not isinstance(message["content"], str):
            message["content"] = _dump(message["content"])
        calls = _items(_under(fields, "tool_calls."), "tool_call")
        if calls:
            message["tool_calls"] = [_tool_call(c.get("function.name"), c.get("function.arguments")) for c in calls]
        if fields.get("tool_call_id"):
            message["tool_call_id"] = str(fields["tool_call_id"])
        messages.append(message)
    return messages


def _genai_messages(value) -> list[dict] | str | None:
    """GenAI messages: a JSON string (or structured value) holding a list of messages."""
    value = _maybe_json(value)
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("messages", [value])
    if isinstance(value, list):
        return [message for message in map(_message, value) if message is not None]
    return value if isinstance(value, str) else _dump(value)


def _event_attribute(events: list, event_name: str, attribute: str):
    for name, attributes in events:
        if name == event_name and attribute in attributes:
            return attributes[attribute]
    return None


def _span_input(kind: str, attributes: dict, indexed: dict, events: list):
    if kind == "tool":
        for name in ("tool.parameters", "gen_ai.tool.call.arguments"):
            if attributes.get(name) is not None:
                return _maybe_json(attributes[name])
    if _INPUT_MESSAGES in indexed:
        return _openinference_messages(indexed[_INPUT_MESSAGES])
    for value in (attributes.get("gen_ai.input.messages"), attributes.get("gen_ai.prompt"),
                  _event_attribute(events, "gen_ai.content.prompt", "gen_ai.prompt")):
        if value is not None:
            return _genai_messages(value)
    if _PROMPTS in indexed:
        return [message for message in map(_message, _items(indexed[_PROMPTS], "")) if message]
    return _value(attributes, "input")


def _span_output(kind: str, attributes: dict, indexed: dict, events: list):
    if kind == "retrieval" and _DOCUMENTS in indexed:
        return _documents(indexed[_DOCUMENTS])
    result = attributes.get("gen_ai.tool.call.result")
    if kind == "tool" and attributes.get("output.value") is None and result is not None:
        return _maybe_json(result)
    if _OUTPUT_MESSAGES in indexed:
        return _openinference_messages(indexed[_OUTPUT_MESSAGES])
    for value in (attributes.get("gen_ai.output.messages"), attributes.get("gen_ai.completion"),
                  _event_attribute(events, "gen_ai.content.completion", "gen_ai.completion")):
        if value is not None:
            return _genai_messages(value)
    if _COMPLETIONS in indexed:
        return [message for message in map(_message, _items(indexed[_COMPLETIONS], "")) if message]
    return _value(attributes, "output")


def _documents(flat: dict) -> list[dict]:
    documents = []
    for fields in _items(flat, "document"):
        document = {}
        for name in ("id", "content", "score", "metadata"):
            if fields.get(name) is not None:
                document[name] = _maybe_json(fields[name]) if name == "metadata" else fields[name]
        documents.append(document)
    return documents


def _kind(attributes: dict) -> str:
    openinference = attributes.get("openinference.span.kind")
    if isinstance(openinference, str):
        return _OPENINFERENCE_KINDS.get(openinference.upper(), "other")
    operation = attributes.get("gen_ai.operation.name")
    if isinstance(operation, str):
        return _GENAI_OPERATIONS.get(operation, "other")
    if "gen_ai.tool.name" in attributes or attributes.get("traceloop.span.kind") == "tool":
        return "tool"
    if "gen_ai.request.model" in attributes or attributes.get("llm.request.type") in ("chat", "completion"):
        return "llm"
    return "other"


def _error(span: SpanData) -> str:
    exception = _event_attribute(span.events, "exception", "exception.message")
    if exception is None:
        exception = _event_attribute(span.events, "exception", "exception.type")
    if span.status_code == STATUS_ERROR:
        message = span.status_message or (str(exception) if exception is not None else "") or "error"
    else:
        message = str(exception) if exception is not None else ""
    return message[:MAX_TEXT]


def _step_attributes(attributes: dict, indexed: dict) -> dict:
    """All span attributes; past the key limit, the list entries already in input/output go first."""
    if len(attributes) <= MAX_KEYS:
        return attributes
    kept = {k: v for k, v in attributes.items() if not k.startswith(_INDEXED[:5])}
    if len(kept) > MAX_KEYS:
        kept = dict(list(kept.items())[: MAX_KEYS - 1])
    if len(kept) < len(attributes) and len(kept) < MAX_KEYS:
        kept["agentloop.dropped_attributes"] = len(attributes) - len(kept)
    return kept


def span_step(span: SpanData, turn_id: uuid.UUID, indexed: dict) -> StepIn:
    attributes = span.attributes
    kind = _kind(attributes)
    return StepIn(
        id=span.span_id,
        turn_id=turn_id,
        parent_id=span.parent_id,
        kind=kind,
        name=span.name[:MAX_SHORT],
        started_at=_time(span.start_ns),
        ended_at=_time(span.end_ns),
        input=_span_input(kind, attributes, indexed, span.events),
        output=_span_output(kind, attributes, indexed, span.events),
        error=_error(span),
        attributes=_step_attributes(attributes, indexed),
    )


# --- root span → turn -------------------------------------------------------------------------


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
                return _text(message.get("content", message.get("parts")))
        return _dump(value)
    if isinstance(value, dict):
        for key in keys:
            if isinstance(value.get(key), str):
                return value[key]
        if isinstance(value.get("messages"), list):
            return again(value["messages"])
    return _dump(value)


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
    return (value if isinstance(value, str) else _dump(value))[:limit]


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
    kind = _kind(attributes)
    root_input = _span_input(kind, attributes, indexed, span.events)
    root_output = _span_output(kind, attributes, indexed, span.events)
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
        timestamp=_time(span.start_ns),
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
    error = _error(span)
    if error:
        metadata["error"] = error
    custom = _maybe_json(attributes.get("metadata"))
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

