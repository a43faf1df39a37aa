"""The demo's prompt: ``support-agent`` with three versions, ``production`` on v2 (protected) and
``staging`` on v3, its history backdated so the demo traffic (apps/demo/traffic.py, which sends
``prompt_version="support-agent@2"`` and, for the shipping regression, ``"support-agent@3"``)
falls inside each version's labelled window. Idempotent: an existing prompt is left alone."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from apps.core.audit import Actor
from apps.experiments.models import Prompt
from apps.experiments.services.labels import prompt_label_move, prompt_label_protect
from apps.experiments.services.prompts import Author, prompt_version_create

NAME = "support-agent"
TOOLS = [
    {"type": "function", "function": {
        "name": "track_order", "description": "Shipping status of an order",
        "parameters": {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]},
    }},
    {"type": "function", "function": {
        "name": "refund", "description": "Refund an order to the original payment method",
        "parameters": {"type": "object", "properties": {"order": {"type": "string"}, "reason": {"type": "string"}},
                       "required": ["order"]},
    }},
]
BILLING_TOOL = {"type": "function", "function": {
    "name": "update_billing_address", "description": "Change the customer's billing address",
    "parameters": {"type": "object", "properties": {"address": {"type": "string", "minLength": 3}}, "required": ["address"]},
}}
VERSIONS = [
    (20, "You are Acme's support assistant. Answer {{customer_name}}'s question using the knowledge base.\n\n"
         "Question: {{question}}",
     TOOLS[:1], {"model": "gpt-4o-mini", "temperature": 0.3, "max_tokens": 400}, "First support prompt"),
    (6, "You are Acme's support assistant for {{customer_name}} (plan: {{plan}}).\n"
        "Answer from the knowledge base below; if it has no answer, say so and offer a human.\n\n"
        "Knowledge base:\n{{documents}}\n\nQuestion: {{question}}",
     TOOLS + [BILLING_TOOL], {"model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 500},
     "Ground answers in the knowledge base; add refund and billing tools"),
    (3, "You are Acme's upbeat support assistant for {{customer_name}} (plan: {{plan}}).\n"
        "Keep answers short and positive. Mention free shipping when it helps.\n\n"
        "Knowledge base:\n{{documents}}\n\nQuestion: {{question}}",
     TOOLS + [BILLING_TOOL], {"model": "gpt-4o-mini", "temperature": 0.7, "max_tokens": 250},
     "Shorter, friendlier answers (trial on staging)"),
]


def seed_prompts_demo(*, project, actor: Actor, now: dt.datetime | None = None) -> Prompt:
    existing = Prompt.objects.for_project(project).filter(name=NAME).first()
    if existing is not None:
        return existing
    now = now or timezone.now()
    author = Author(actor=actor)
    for days_ago, template, tools, settings, message in VERSIONS:
        version = prompt_version_create(
            project=project, name=NAME, template=template, tools=tools, settings=settings, message=message, author=author,
            description="The Acme support agent's system prompt, tools and model settings.",
            created_at=now - dt.timedelta(days=days_ago),
        )
    prompt = version.prompt
    moves = [("production", 1, 20), ("staging", 2, 7), ("production", 2, 6), ("staging", 3, 3)]
    for label, number, days_ago in moves:
        prompt_label_move(prompt=prompt, name=label, version=number, author=author, role="owner",
                          at=now - dt.timedelta(days=days_ago, minutes=-5))
    production = prompt.labels.get(name="production")
    prompt_label_protect(label=production, protected=True, author=author)
    return prompt
