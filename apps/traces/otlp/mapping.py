"""OTLP span attributes → AgentLoop steps (OpenInference and OpenTelemetry GenAI, current and
deprecated names), and the readers of a span's kind, input, output and error that the turn
assembly (apps/traces/otlp/assembly.py) shares. Pure functions over decoded spans: no database access.

Over-long text is truncated rather than rejected (OTLP clients cannot fix one item), and every
limit of apps/traces/schemas.py is applied while the structs are built.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

import msgspec

from apps.traces.otlp.codec import STATUS_ERROR, SpanData
from apps.traces.schemas import KIND_PATTERN, MAX_KEYS, MAX_SHORT, MAX_TEXT, StepIn

SOURCE = "otlp"
SIGNAL_PREFIX = "agentloop.signal."
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


def span_time(nanoseconds: int) -> dt.datetime | None:
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


def maybe_json(value):
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
        return maybe_json(value)
    return value


def content_text(content) -> str:
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
    return dump(content)


def dump(value) -> str:
    return value if isinstance(value, str) else msgspec.json.encode(value).decode()


def _tool_call(name, arguments) -> dict:
    return {"name": "" if name is None else str(name), "arguments": maybe_json(arguments)}


def _message(raw) -> dict | None:
    """One chat message in a common shape: ``{"role", "content"[, "tool_calls", "tool_call_id"]}``."""
    if not isinstance(raw, dict):
        return {"role": "", "content": content_text(raw)} if raw is not None else None
    message = {"role": str(raw.get("role") or ""), "content": ""}
    tool_calls = []
    parts = raw.get("parts")
    if isinstance(parts, list):  # GenAI gen_ai.input.messages / gen_ai.output.messages
        message["content"] = content_text(parts)
        for part in parts:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "tool_call":
                tool_calls.append(_tool_call(part.get("name"), part.get("arguments")))
            elif part.get("type") == "tool_call_response" and not message["content"]:
                message["content"] = content_text(part.get("response"))
    else:
        message["content"] = content_text(raw.get("content"))
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
            message["content"] = dump(message["content"])
        calls = _items(_under(fields, "tool_calls."), "tool_call")
        if calls:
            message["tool_calls"] = [_tool_call(c.get("function.name"), c.get("function.arguments")) for c in calls]
        if fields.get("tool_call_id"):
            message["tool_call_id"] = str(fields["tool_call_id"])
        messages.append(message)
    return messages


def _genai_messages(value) -> list[dict] | str | None:
    """GenAI messages: a JSON string (or structured value) holding a list of messages."""
    value = maybe_json(value)
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("messages", [value])
    if isinstance(value, list):
        return [message for message in map(_message, value) if message is not None]
    return value if isinstance(value, str) else dump(value)


def _event_attribute(events: list, event_name: str, attribute: str):
    for name, attributes in events:
        if name == event_name and attribute in attributes:
            return attributes[attribute]
    return None


def span_input(kind: str, attributes: dict, indexed: dict, events: list):
    if kind == "tool":
        for name in ("tool.parameters", "gen_ai.tool.call.arguments"):
            if attributes.get(name) is not None:
                return maybe_json(attributes[name])
    if _INPUT_MESSAGES in indexed:
        return _openinference_messages(indexed[_INPUT_MESSAGES])
    for value in (attributes.get("gen_ai.input.messages"), attributes.get("gen_ai.prompt"),
                  _event_attribute(events, "gen_ai.content.prompt", "gen_ai.prompt")):
        if value is not None:
            return _genai_messages(value)
    if _PROMPTS in indexed:
        return [message for message in map(_message, _items(indexed[_PROMPTS], "")) if message]
    return _value(attributes, "input")


def span_output(kind: str, attributes: dict, indexed: dict, events: list):
    if kind == "retrieval" and _DOCUMENTS in indexed:
        return _documents(indexed[_DOCUMENTS])
    result = attributes.get("gen_ai.tool.call.result")
    if kind == "tool" and attributes.get("output.value") is None and result is not None:
        return maybe_json(result)
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
                document[name] = maybe_json(fields[name]) if name == "metadata" else fields[name]
        documents.append(document)
    return documents


def span_kind(attributes: dict) -> str:
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


def span_error(span: SpanData) -> str:
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
    kind = span_kind(attributes)
    return StepIn(
        id=span.span_id,
        turn_id=turn_id,
        parent_id=span.parent_id,
        kind=kind,
        name=span.name[:MAX_SHORT],
        started_at=span_time(span.start_ns),
        ended_at=span_time(span.end_ns),
        input=span_input(kind, attributes, indexed, span.events),
        output=span_output(kind, attributes, indexed, span.events),
        error=span_error(span),
        attributes=_step_attributes(attributes, indexed),
    )
