"""OTLP traces → turns, steps and signals (DESIGN.md "HTTP contract").

- A trace's root span (no parent) becomes the turn ``uuid.UUID(bytes=trace_id)``; every other
  span becomes a step of that turn (span id in hex). Children may arrive before their root
  (``SimpleSpanProcessor`` exports each span as it ends): they are stored and wait for it.
- Turn fields come from the root's attributes, OpenInference (https://github.com/Arize-ai/
  openinference/blob/main/spec/semantic_conventions.md) and OpenTelemetry GenAI, current and
  deprecated names (https://opentelemetry.io/docs/specs/semconv/gen-ai/). What the root lacks
  (question, answer, history, model, session, user, token usage) is taken from its LLM children,
  and its ``tool_calls`` and ``retrieved`` are collected from its tool and retrieval children:
  those in the same request, and those stored earlier (one query per request, not per span).
- ``agentloop.signal.<kind>`` attributes on any span become signals of the trace's turn.
- OTLP clients cannot fix one item, so over-long text is truncated rather than rejected; the
  structs are built directly (no second validation pass) and every limit of
  apps/traces/schemas.py is applied while they are built (otlp/mapping.py: spans → steps,
  otlp/assembly.py: root → turn). Everything is written by one ``write_batch``.
"""


from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from apps.traces.models import Step
from apps.traces.otlp.assembly import Child, root_turn
from apps.traces.otlp.codec import DecodedSpans, SpanData
from apps.traces.otlp.mapping import EPOCH, KIND_RE, SIGNAL_PREFIX, SOURCE, indexed_attributes, span_step
from apps.traces.schemas import SignalIn
from apps.traces.services.batch import Batch, Outcome, add_parsed
from apps.traces.services.write import write_batch


@dataclass
class OtlpResult:
    """What the OTLP response reports: spans refused and why (``partialSuccess``)."""

    accepted: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def error_message(self) -> str:
        return "; ".join(self.errors)


def otlp_traces_ingest(*, project, decoded: DecodedSpans) -> OtlpResult:
    """Store one OTLP export; returns after the commit (the caller answers 200 only then)."""
    result = OtlpResult(rejected=decoded.rejected, errors=list(decoded.errors))
    batch = Batch(project=project, source_kind=SOURCE)
    roots: dict[str, tuple[SpanData, dict]] = {}
    children: dict[str, dict[str, Child]] = {}
    seen: set[tuple[str, str]] = set()

    for span in decoded.spans:
        key = (span.trace_id, span.span_id)
        if key in seen:
            continue  # the same span twice in one export
        seen.add(key)
        indexed = indexed_attributes(span.attributes)
        turn_id = uuid.UUID(span.trace_id)
        for kind, value in indexed.get(SIGNAL_PREFIX, {}).items():
            if KIND_RE.match(kind):
                signal = SignalIn(turn_id=turn_id, kind=kind, value=value)
                add_parsed(batch, signal, Outcome(0, "signal"), source=SOURCE)
            else:
                _note(result, f"Signal kind {kind!r} is invalid; it was skipped.")
        if not span.parent_id and span.trace_id not in roots:
            roots[span.trace_id] = (span, indexed)
            continue
        step = span_step(span, turn_id, indexed)
        add_parsed(batch, step, Outcome(0, "step"), source=SOURCE)
        children.setdefault(span.trace_id, {})[step.id] = Child(
            step.id, step.kind, step.name, step.started_at, step.input, step.output, step.error, step.attributes
        )

    stored = _stored_children(project, list(roots), children)
    for trace_id, (span, indexed) in roots.items():
        family = list(stored.get(trace_id, ())) + list(children.get(trace_id, {}).values())
        family.sort(key=lambda child: (child.started_at or EPOCH, child.span_id))
        add_parsed(batch, root_turn(span, indexed, family), Outcome(0, "turn"), source=SOURCE)

    write_batch(batch)
    result.accepted = len(decoded.spans)
    return result


def _note(result: OtlpResult, message: str) -> None:
    if message not in result.errors:
        result.errors.append(message)


def _stored_children(project, trace_ids: list[str], current: dict[str, dict[str, Child]]) -> dict[str, list[Child]]:
    """Children of this request's roots that earlier requests stored (one query)."""
    if not trace_ids:
        return {}
    rows = (
        Step.objects.for_project(project)
        .filter(turn_id__in=[uuid.UUID(trace_id) for trace_id in trace_ids])
        .values_list("turn_id", "span_id", "kind", "name", "started_at", "input", "output", "error", "attributes")
    )
    stored: dict[str, list[Child]] = {}
    for turn_id, span_id, kind, name, started_at, input, output, error, attributes in rows:
        trace_id = turn_id.hex
        if span_id not in current.get(trace_id, {}):
            child = Child(span_id, kind, name, started_at, input, output, error, attributes)
            stored.setdefault(trace_id, []).append(child)
    return stored
