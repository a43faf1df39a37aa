"""What one ingestion request holds between parsing (services/ingest.py) and writing
(services/write.py): the per-item outcomes and the validated rows, grouped by kind.

Rows are msgspec structs rather than tuples, so the writer reads ``signal.turn_id``, not
``signal[0]``; msgspec builds them about as fast as tuples (a slotted dataclass costs about three
times as much per row), which matters at thousands of rows per request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import msgspec

from apps.traces.schemas import FeedbackIn, SignalIn, StepIn, TurnIn


@dataclass
class Outcome:
    """Per-item result: ``status`` 201 created, 200 duplicate/updated, 202 waiting for its turn."""

    index: int
    type: str
    status: int = 0
    id: str | None = None
    code: str | None = None
    message: str | None = None
    field: str | None = None

    def as_dict(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if value is not None}


def reject(outcome: Outcome, code: str, message: str, field_name: str | None = None) -> Outcome:
    outcome.status, outcome.code, outcome.message, outcome.field = 400, code, message, field_name
    return outcome


class TurnRow(msgspec.Struct):
    parsed: TurnIn
    outcome: Outcome


class StepRow(msgspec.Struct):
    """``outcome`` is None for a step nested in a turn: the turn's outcome answers for it."""

    turn_id: uuid.UUID
    step: StepIn
    outcome: Outcome | None


class SignalRow(msgspec.Struct):
    """``outcome`` is None for a signal implied by a turn or a feedback (answered by that item)."""

    turn_id: uuid.UUID
    kind: str
    value: object
    source: str
    dedupe_key: str
    outcome: Outcome | None


class FeedbackRow(msgspec.Struct):
    parsed: FeedbackIn
    source: str
    outcome: Outcome


@dataclass
class Batch:
    """One request's rows; turns and feedback by id (a later copy in the batch replaces or
    loses to the earlier one, see ``add_parsed``)."""

    project: object
    source_kind: str = "sdk"
    outcomes: list[Outcome] = field(default_factory=list)
    turns: dict[uuid.UUID, TurnRow] = field(default_factory=dict)
    steps: list[StepRow] = field(default_factory=list)
    signals: list[SignalRow] = field(default_factory=list)
    feedback: dict[uuid.UUID, FeedbackRow] = field(default_factory=dict)
    redactions: dict[uuid.UUID, dict] = field(default_factory=dict)  # turn id → {kind: count} (services/redact.py)


def add_parsed(batch: Batch, parsed, outcome: Outcome, *, source: str) -> None:
    """Queue one validated payload for writing (REST items, OTLP spans and widget feedback)."""
    if isinstance(parsed, TurnIn):
        turn_id = parsed.id or uuid.uuid4()
        outcome.id = str(turn_id)
        if turn_id in batch.turns:
            outcome.status = 200  # the same turn twice in one batch: the first one is written
            return
        batch.turns[turn_id] = TurnRow(parsed, outcome)
        for kind, value in parsed.signals.items():
            batch.signals.append(SignalRow(turn_id, kind, value, source, "", None))
        for step in parsed.steps:
            batch.steps.append(StepRow(turn_id, step, None))
    elif isinstance(parsed, StepIn):
        if parsed.turn_id is None:
            reject(outcome, "required", "A step needs the turn_id of its turn.", "body.turn_id")
            return
        outcome.id = parsed.id
        batch.steps.append(StepRow(parsed.turn_id, parsed, outcome))
    elif isinstance(parsed, SignalIn):
        outcome.id = str(parsed.turn_id)
        batch.signals.append(SignalRow(parsed.turn_id, parsed.kind, parsed.value, source, parsed.dedupe_key, outcome))
    elif isinstance(parsed, FeedbackIn):
        feedback_id = parsed.id or uuid.uuid4()
        outcome.id = str(feedback_id)
        previous = batch.feedback.get(feedback_id)
        if previous is not None:
            previous.outcome.status = 200  # superseded by the later copy in this batch
        batch.feedback[feedback_id] = FeedbackRow(parsed, source, outcome)
