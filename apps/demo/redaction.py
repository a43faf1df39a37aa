"""Demo PII redaction: the Billing agent has every built-in recogniser on, keyed placeholders and
one customer pattern (invoice numbers), and one turn that arrived full of personal data and was
stored redacted (through the ingestion door, like any SDK turn). Idempotent: the settings are
saved once and the turn has a fixed id."""

from __future__ import annotations

import uuid

from apps.core.audit import Actor
from apps.core.redaction import KINDS
from apps.projects.redaction import redaction_settings_get, redaction_settings_save
from apps.traces.services.ingest import ingest_items

REDACTED_TURN_ID = uuid.UUID("6d1b7c9e-2f4a-4e8b-9a51-0c3d5e7f9b21")
INVOICE_PATTERN = {"name": "invoice", "regex": r"INV-\d{6}"}


def seed_redaction(*, project, actor: Actor) -> uuid.UUID:
    if redaction_settings_get(project=project) is None:
        redaction_settings_save(project=project, kinds=list(KINDS), placeholder_style="keyed",
                                patterns=[INVOICE_PATTERN], actor=actor)
    ingest_items(project=project, items=[{"type": "turn", "body": {
        "id": str(REDACTED_TURN_ID), "user_id": "billing-user-7", "session_id": "billing-demo-1",
        "question": "I was charged twice on card 4111 1111 1111 1111 for INV-204518. Reply to dana.whitfield@example.com "
                    "or call +44 20 7946 0958.",
        "agent_response": "Sorry about that, Dana. I refunded the duplicate charge on INV-204518 to the card ending 1111; "
                          "a confirmation goes to dana.whitfield@example.com.",
        "metadata": {"client_ip": "203.0.113.42", "iban_on_file": "DE89 3704 0044 0532 0130 00"},
        "tool_calls": [{"name": "refund", "arguments": {"invoice": "INV-204518", "api_key": "sk_live_51HxYzAbCdEfGhIjKlMnOp"}}],
    }}])
    return REDACTED_TURN_ID
