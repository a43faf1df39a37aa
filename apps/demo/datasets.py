"""Demo eval datasets: "Refund failures" built from the demo's confirmed review decisions (with
one case whose turn was deleted afterwards: its lineage shows the tombstone) and a holdout of
written refund questions (enough paired cases for the offline validation), the first-level
queue's auto-add rule pointing at it, and "Escalation handbook" imported from JSONL (the file
has one bad line, so its import shows a per-row error). Safe to call again: datasets are found by
name and built only once.
"""

from __future__ import annotations

import json
import uuid

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.core.audit import SYSTEM
from apps.datasets.models import CaseSource, Dataset
from apps.datasets.services.batch import cases_add_batch
from apps.datasets.services.changes import Author
from apps.datasets.services.datasets import dataset_create
from apps.datasets.services.imports import import_confirm, import_preview
from apps.datasets.services.integrations import auto_add_set
from apps.datasets.services.turns import cases_add_from_turns
from apps.governance.purge import purge_turns
from apps.review.models import Decision, ItemState, ReviewItem, ReviewQueue, Verdict
from apps.traces.models import DeletionReason, Turn

REFUNDS = "Refund failures"
HANDBOOK = "Escalation handbook"
GONE_TURN = uuid.uuid5(uuid.NAMESPACE_URL, "agentloop-demo/deleted-turn")
AUTHOR = Author(user=None, label="demo seed")
HANDBOOK_CASES = [
    {"input": "I want to speak to a manager right now.", "expected_output": "I can connect you with a supervisor; "
     "before I do, may I have your order number so they have the context?", "split": "holdout", "tags": ["escalation"],
     "failure_category": "policy"},
    {"input": "Your bot keeps giving me the same answer.", "expected_output": "Sorry about that. Let me hand you to a "
     "person who can look at your account.", "split": "holdout", "tags": ["escalation", "rephrase"], "failure_category": "tone"},
    {"input": "Cancel my subscription and refund this month.", "expected_output": "I've started the cancellation; a "
     "refund for this month is issued within 5 business days.", "split": "regression", "tags": ["refunds"],
     "failure_category": "hallucination", "metadata": {"system": "You are Acme's support agent."}},
    {"input": "=HYPERLINK(\"http://example.test\",\"click\")", "expected_output": "I can't open links; what do you need help with?",
     "split": "regression", "tags": ["injection"], "failure_category": "other"},
]


_REFUND_ITEMS = ("headphones", "running shoes", "coffee grinder", "desk lamp", "phone case")
_REFUND_QUESTIONS = (
    ("Can I return the {item} I bought last week for a refund?",
     "Yes: the {item} can be returned within 30 days of delivery for a full refund."),
    ("How long does the refund for my {item} take?",
     "Refunds for the {item} reach your card within 5 business days of our receiving it."),
    ("My {item} arrived broken. Do I get my money back?",
     "Yes: a damaged {item} is refunded in full, and we send a prepaid return label."),
    ("I opened the {item}. Can I still get a refund?",
     "Yes: an opened {item} can be refunded within 30 days if it is complete and undamaged."),
    ("Do I pay for shipping when I return the {item}?",
     "Returns of the {item} are free: use the prepaid label from your order page."),
    ("It has been 40 days. Can I still return the {item}?",
     "The 30-day refund window for the {item} has passed; we can offer store credit instead."),
    ("Will I be refunded for the {item} in cash or store credit?",
     "The {item} is refunded to the original payment method; store credit is available on request."),
    ("Where is my refund for the {item}? I returned it two weeks ago.",
     "Refunds for the {item} take 5 business days after it arrives; let me check its tracking for you."),
)


def _holdout_cases() -> list[dict]:
    """Forty written refund questions with the policy's answers (the offline validation's holdout)."""
    return [{"input": question.format(item=item), "expected_output": answer.format(item=item), "split": "holdout",
             "tags": ["refunds"], "failure_category": "policy"}
            for question, answer in _REFUND_QUESTIONS for item in _REFUND_ITEMS]


def _handbook_file() -> bytes:
    lines = [json.dumps(case, ensure_ascii=False) for case in HANDBOOK_CASES]
    lines.insert(2, '{"input": "", "expected_output": "a row without a question"}')
    return ("\n".join(lines) + "\n").encode()


def _deleted_turn_case(project, dataset, reviewer) -> None:
    """A confirmed turn added to the dataset and then deleted (as expiry would): a tombstone."""
    queue = ReviewQueue.objects.for_project(project).order_by("pk").first()
    if queue is None:
        return
    Turn.objects.create(project=project, id=GONE_TURN, input="Can I get a refund after 40 days?",
                        output="Yes, refunds are possible for up to 90 days.", session_id="s-deleted",
                        created_at=timezone.now() - timezone.timedelta(days=40))
    item = ReviewItem.objects.create(project=project, queue=queue, turn_id=GONE_TURN, state=ItemState.CONFIRMED)
    Decision.objects.create(project=project, item=item, queue=queue, reviewer=reviewer, verdict=Verdict.CONFIRM,
                            category="hallucination", correction="Refunds are possible within 30 days of delivery.")
    cases_add_from_turns(dataset=dataset, author=AUTHOR, turn_ids=[GONE_TURN], split="regression", tags=["refunds"],
                         message="A confirmed failure whose turn later expired")
    purge_turns(project=project, turns=Turn.objects.for_project(project).filter(id=GONE_TURN), reason=DeletionReason.RETENTION)


def seed_datasets_demo(*, project, reviewer=None) -> dict:
    refunds = Dataset.objects.for_project(project).filter(name=REFUNDS).first()
    if refunds is None:
        refunds = dataset_create(project=project, name=REFUNDS, actor=SYSTEM,
                                 description="Confirmed failures from the review queues, with each reviewer's correction.")
        turn_ids = list(dict.fromkeys(
            Decision.objects.for_project(project).filter(verdict=Verdict.CONFIRM, item__state=ItemState.CONFIRMED)
            .order_by("created_at").values_list("item__turn_id", flat=True)
        ))
        if turn_ids:
            cases_add_from_turns(dataset=refunds, author=AUTHOR, turn_ids=turn_ids, split="regression",
                                 message="Confirmed decisions of the demo queues")
        _deleted_turn_case(project, refunds, reviewer)
        cases_add_batch(dataset=refunds, author=AUTHOR, items=_holdout_cases(), source=CaseSource.HAND,
                        message="Refund questions written for the offline holdout")
        first = ReviewQueue.objects.for_project(project).filter(name="Thumbs-down and escalations").first()
        if first is not None:
            auto_add_set(dataset=refunds, queue=first, split="regression", enabled=True, actor=SYSTEM)
    handbook = Dataset.objects.for_project(project).filter(name=HANDBOOK).first()
    if handbook is None:
        handbook = dataset_create(project=project, name=HANDBOOK, actor=SYSTEM,
                                  description="Hand-written escalation cases, imported from a JSONL file.")
        record = import_preview(dataset=handbook, upload=SimpleUploadedFile("escalations.jsonl", _handbook_file()),
                                fmt=None, actor=SYSTEM)
        import_confirm(record=record, actor=SYSTEM, message="Imported escalations.jsonl")
    refunds.refresh_from_db()
    handbook.refresh_from_db()
    return {REFUNDS: refunds.cases_count, HANDBOOK: handbook.cases_count}
