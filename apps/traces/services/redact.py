"""PII redaction of a parsed batch, the last step before ``write_batch`` writes it: every door into
capture (REST single and batch turns, steps, signals and feedback; the feedback API; the widget;
OTLP spans) goes through ``write_batch``, so none can skip it.

What is redacted: a turn's question, answer, history, retrieved documents, tool calls and
metadata values; a step's input, output, error and attribute values; a signal's value; a
feedback's comment, correction, metadata values and signal values. What is not: ids (turn, span, session,
end user), names (step, prompt version, model, variant, signal kind), times, and JSON keys.

Counts: a turn's ``redactions`` holds what was replaced in it and in the steps of the same
request (nested steps, an OTLP trace's spans); children posted on their own are redacted alike
but not counted on a turn that may not exist yet.
"""

from __future__ import annotations

from apps.core.redaction import Counts, Redactor
from apps.projects.redaction import redactor_for
from apps.traces.services.batch import Batch


def _turn(redactor: Redactor, turn, counts: Counts) -> None:
    turn.question = redactor.text(turn.question, counts)
    turn.agent_response = redactor.text(turn.agent_response, counts)
    turn.history = redactor.json(turn.history, counts)
    turn.retrieved = redactor.json(turn.retrieved, counts)
    turn.tool_calls = redactor.json(turn.tool_calls, counts)
    turn.metadata = redactor.json(turn.metadata, counts)


def _step(redactor: Redactor, step, counts: Counts) -> None:
    step.input = redactor.json(step.input, counts)
    step.output = redactor.json(step.output, counts)
    step.error = redactor.text(step.error, counts)
    step.attributes = redactor.json(step.attributes, counts)


def redact_batch(batch: Batch) -> None:
    """Redact the batch in place with the project's settings (nothing to do when they are off)
    and note per turn what was replaced in ``batch.redactions``."""
    if not (batch.turns or batch.steps or batch.signals or batch.feedback):
        return
    redactor = redactor_for(batch.project)
    if redactor is None:
        return
    per_turn: dict = {}
    for turn_id, row in batch.turns.items():
        counts = per_turn[turn_id] = Counts()
        _turn(redactor, row.parsed, counts)
    loose = Counts()
    for row in batch.steps:
        _step(redactor, row.step, per_turn.get(row.turn_id, loose))
    for signal in batch.signals:
        if isinstance(signal.value, (str, list, dict)):
            signal.value = redactor.json(signal.value, loose)
    for row in batch.feedback.values():
        feedback = row.parsed
        feedback.comment = redactor.text(feedback.comment, loose)
        feedback.correction = redactor.text(feedback.correction, loose)
        feedback.metadata = redactor.json(feedback.metadata, loose)
        feedback.signals = redactor.json(feedback.signals, loose)  # written as signals after the feedback
    batch.redactions = {turn_id: counts.as_dict() for turn_id, counts in per_turn.items() if counts.by_kind}
