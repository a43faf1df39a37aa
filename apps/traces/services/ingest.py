"""The ingestion hot path, first half: validate items one by one into a ``Batch``
(services/batch.py); services/write.py then writes each kind with one set-based statement,
commits, and only then is the request answered.

The public doors into capture are here: ``ingest_items`` (REST items: the batch endpoint, single
turns and feedback, the demo) and ``feedback_ingest`` (one validated feedback, for the widget).
OTLP has its own parser (apps/traces/otlp/ingest.py) and the same writer.
"""

from __future__ import annotations

import re

import msgspec

from apps.core.text import InvalidText, clean_json
from apps.traces.schemas import BODY_TYPES, BatchItem, FeedbackIn
from apps.traces.services.batch import Batch, Outcome, add_parsed, reject
from apps.traces.services.write import write_batch

_FIELD = re.compile(r" - at `\$\.?([^`]*)`$")
_UNKNOWN = re.compile(r"unknown field `([^`]*)`")


def _validation_error(outcome: Outcome, exc: msgspec.ValidationError, prefix: str = "") -> Outcome:
    message = str(exc)
    match = _FIELD.search(message)
    unknown = _UNKNOWN.search(message)
    if unknown:
        return reject(outcome, "unknown_field", message, prefix + unknown.group(1))
    field_name = match.group(1) if match else None
    code = "too_large" if "length" in message and "<=" in message else "invalid"
    return reject(outcome, code, message, (prefix + field_name) if field_name else (prefix.rstrip(".") or None))


def _add_item(batch: Batch, index: int, raw, *, source: str) -> None:
    outcome = Outcome(index=index, type=str(raw.get("type")) if isinstance(raw, dict) else "?")
    batch.outcomes.append(outcome)
    try:
        item = msgspec.convert(raw, BatchItem)
    except msgspec.ValidationError as exc:
        _validation_error(outcome, exc)
        if outcome.field == "type":
            outcome.code = "unknown_type"
        return
    outcome.type = item.type
    body = dict(item.body)
    if item.id is not None and item.type != "signal":  # a signal's item id is only for the caller's bookkeeping
        body.setdefault("id", item.id)
    try:
        body = clean_json(body)
        parsed = msgspec.convert(body, BODY_TYPES[item.type])
    except InvalidText as exc:
        reject(outcome, "invalid_unicode", str(exc))
        return
    except msgspec.ValidationError as exc:
        _validation_error(outcome, exc, prefix="body.")
        return
    add_parsed(batch, parsed, outcome, source=source)


def parse_batch(project, items: list, *, source: str = "sdk") -> Batch:
    batch = Batch(project=project)
    for index, raw in enumerate(items):
        _add_item(batch, index, raw, source=source)
    return batch


def ingest_items(*, project, items: list, source: str = "sdk") -> list[Outcome]:
    """Validate and store a batch of ``{"type", "id", "body"}`` items; one outcome per item."""
    batch = parse_batch(project, items, source=source)
    return write_batch(batch)


def feedback_ingest(*, project, feedback: FeedbackIn, source: str) -> Outcome:
    """Store one already validated feedback (an upsert by its id) and its implied signals, as a
    batch item of ``source`` would be; returns its outcome after the commit (400/409 refused)."""
    batch = Batch(project=project)
    outcome = Outcome(index=0, type="feedback")
    batch.outcomes.append(outcome)
    add_parsed(batch, feedback, outcome, source=source)
    write_batch(batch)
    return outcome
