"""Realistic support-agent traffic for the demo, sent through the Python SDK like a customer would.

Ids are derived from names (uuid5), so sending twice stores nothing new: the server's
idempotency does the deduplication, exactly as it would for an SDK retry.
"""

from __future__ import annotations

import datetime as dt
import uuid

NAMESPACE = uuid.UUID("0b6f3a52-8a51-4b8e-9a0e-5d7c7f1e4c21")
KB = {
    "reset": {"id": "kb-12", "title": "Reset your password", "score": 0.86,
              "text": "Go to Settings → Security → Reset password. A link is e-mailed to you."},
    "refund": {"id": "kb-40", "title": "Refund policy", "score": 0.79,
               "text": "Annual plans can be refunded within 30 days of purchase."},
    "invoice": {"id": "kb-7", "title": "Download invoices", "score": 0.32,
                "text": "Invoices are listed under Billing → History."},
    "sso": {"id": "kb-88", "title": "Single sign-on", "score": 0.18, "text": "SSO is available on Enterprise."},
}

# (session, user, plan, [(question, answer, extras)]) — extras: signals, kb, tool, tool_error, feedback, minutes
SESSIONS = [
    ("s-reset-1", "maria@northwind.test", "pro", [
        ("How do I reset my password?", "Go to Settings → Security → Reset password; we e-mail you a link.",
         {"kb": ["reset"], "feedback": ("up", "Quick and right.", "")}),
    ]),
    ("s-refund-2", "li.wei@contoso.test", "enterprise", [
        ("Can I get a refund on my annual plan?", "I'm not able to help with refunds. Please contact support.",
         {"kb": ["refund"], "signals": {"thumbs_down": True}}),
        ("can i get a refund on my annual subscription?", "I'm sorry, I don't know. Please contact support.",
         {"kb": ["refund"], "minutes": 1}),
        ("I want to talk to a human please", "I'll connect you with a support agent.",
         {"signals": {"escalation": True}, "minutes": 2,
          "feedback": ("down", "It never answered the refund question.",
                       "Annual plans are refundable within 30 days, so yes: go to Billing → Refund.")}),
    ]),
    ("s-invoice-3", "sam@fabrikam.test", "pro", [
        ("Where can I download my invoices?", "Invoices are under Billing → History.", {"kb": ["invoice"]}),
        ("where do i find invoices for last year", "Invoices are under Billing → History; use the year filter.",
         {"kb": ["invoice"], "minutes": 1}),
    ]),
    ("s-order-4", "nina@tailspin.test", "free", [
        ("What's the status of order 4411?", "Your order 4411 shipped yesterday and arrives Friday.",
         {"tool": ("track_order", {"order": "4411"}, {"status": "shipped", "eta": "Friday"}), "model": "gpt-4o"}),
    ]),
    ("s-order-5", "omar@adatum.test", "pro", [
        ("Track my order 9920", "Sorry, something went wrong while looking up your order.",
         {"tool": ("track_order", {"order": "9920"}, None), "tool_error": "TimeoutError: carrier API did not answer in 10s",
          "signals": {"thumbs_down": True}}),
    ]),
    ("s-sso-6", "priya@litware.test", "enterprise", [
        ("How do I set up SAML SSO with Okta?", "I don't have information about that.",
         {"kb": ["sso"], "signals": {"confidence": 0.22}}),
    ]),
    ("s-sso-7", "priya@litware.test", "enterprise", [
        ("Still need help configuring Okta SSO for our workspace", "SSO is available on Enterprise plans.",
         {"kb": [], "minutes": -60, "signals": {"thumbs_down": True},
          "feedback": ("down", "Same non-answer as yesterday.", "")}),
    ]),
    ("s-abandon-8", "guest-3021", "free", [
        ("Do you have a student discount?", "We offer 50% off for verified students — want me to start the verification?",
         {"variant": "B"}),
    ]),
    ("s-billing-9", "kim@proseware.test", "pro", [
        ("Change my billing address to 5 Main St", "Done — your billing address is now 5 Main St.",
         {"tool": ("update_billing_address", {"address": "5 Main St"}, {"ok": True}), "feedback": ("up", "", "")}),
        ("Thanks! Also add a VAT number?", "Sure, what's the VAT number?", {"minutes": 1}),
    ]),
    ("s-xss-10", "mallory@example.test", "free", [
        ("Render this: <script>alert('xss')</script>", "Here you go: <script>alert('xss')</script><img src=x onerror=alert(1)>",
         {"signals": {"thumbs_down": True}}),
    ]),
    # Refund-policy questions the knowledge base has no answer for (retrieval returns nothing).
    ("s-refund-11", "tom@northwind.test", "pro", [
        ("Can I get a refund for my annual plan?", "I'm not sure about refunds. Please contact support.",
         {"kb": [], "signals": {"thumbs_down": True}}),
    ]),
    ("s-refund-12", "ana@contoso.test", "pro", [
        ("Is the annual plan refundable if I cancel now?", "I don't have information about refunds.", {"kb": []}),
    ]),
    ("s-refund-13", "raj@fabrikam.test", "enterprise", [
        ("How do I get a refund on my annual subscription?", "I couldn't find anything about that. Please contact support.",
         {"kb": [], "signals": {"escalation": True}}),
    ]),
    ("s-refund-14", "eve@tailspin.test", "free", [
        ("refund for annual plan, bought it last week", "I'm not sure. Please contact support.",
         {"kb": [], "signals": {"thumbs_down": True}}),
    ]),
    # The `refund` tool fails: the payment provider answers 502.
    ("s-refundtool-15", "joe@adatum.test", "pro", [
        ("Please refund order 1187", "Sorry, something went wrong while issuing your refund.",
         {"tool": ("refund", {"order": "1187"}, None), "tool_error": "PaymentGatewayError: 502 from the payment provider",
          "signals": {"thumbs_down": True}}),
    ]),
    ("s-refundtool-16", "kai@litware.test", "pro", [
        ("Refund my order 5521, it arrived broken", "Sorry, I could not process the refund right now.",
         {"tool": ("refund", {"order": "5521"}, None), "tool_error": "PaymentGatewayError: 502 from the payment provider"}),
    ]),
    ("s-refundtool-17", "lea@proseware.test", "enterprise", [
        ("I need a refund for order 9911 please", "Something went wrong; please try again later.",
         {"tool": ("refund", {"order": "9911"}, None), "tool_error": "PaymentGatewayError: 502 from the payment provider",
          "signals": {"escalation": True}}),
    ]),
    # Shipping answers went wrong once support-agent v3 (staging) took some traffic.
    ("s-ship-18", "max@northwind.test", "pro", [
        ("How long does shipping to Canada take?", "Shipping is free on all orders!", {"prompt": "support-agent@3",
         "signals": {"thumbs_down": True}}),
    ]),
    ("s-ship-19", "zoe@contoso.test", "free", [
        ("What is the shipping time to Canada?", "We ship worldwide.", {"prompt": "support-agent@3",
         "signals": {"thumbs_down": True}}),
    ]),
    ("s-ship-20", "ivan@fabrikam.test", "pro", [
        ("shipping to Canada, how many days?", "Great question! We love Canada.", {"prompt": "support-agent@3",
         "signals": {"thumbs_down": True}}),
    ]),
]


def demo_turn_id(session: str, index: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{session}:{index}"))


def send(*, host: str, api_key: str, project_id: str, now: dt.datetime | None = None) -> int:
    """Log every demo turn (and its feedback) through the SDK; returns the number of turns sent."""
    from agentloop import AgentLoop

    now = now or dt.datetime.now(dt.timezone.utc)
    loop = AgentLoop(api_key=api_key, host=host, project_id=project_id)
    sent = 0
    for number, (session, user, plan, turns) in enumerate(SESSIONS):
        started = now - dt.timedelta(hours=2 * (len(SESSIONS) - number))
        history: list[dict] = []
        for index, (question, answer, extra) in enumerate(turns):
            turn_id = demo_turn_id(session, index)
            at = started + dt.timedelta(minutes=extra.get("minutes", 0) + index)
            steps, tool_calls = [], []
            retrieved = [KB[name] for name in extra.get("kb", [])]
            if "kb" in extra:
                steps.append({"id": "retrieve", "kind": "retrieval", "name": "kb.search", "started_at": at.isoformat(),
                              "ended_at": (at + dt.timedelta(milliseconds=120)).isoformat(),
                              "input": question, "output": [doc["id"] for doc in retrieved]})
            if "tool" in extra:
                name, arguments, result = extra["tool"]
                error = extra.get("tool_error", "")
                tool_calls.append({"name": name, "arguments": arguments, "result": result, "error": error or None})
                steps.append({"id": "tool", "kind": "tool", "name": name, "started_at": at.isoformat(),
                              "ended_at": (at + dt.timedelta(milliseconds=900 if error else 240)).isoformat(),
                              "input": arguments, "output": result, "error": error})
            steps.append({"id": "llm", "kind": "llm", "name": "chat.completions", "parent_id": "",
                          "started_at": (at + dt.timedelta(milliseconds=300)).isoformat(),
                          "ended_at": (at + dt.timedelta(milliseconds=1500)).isoformat(),
                          "input": [*history, {"role": "user", "content": question}], "output": answer,
                          "attributes": {"gen_ai.usage.input_tokens": 412, "gen_ai.usage.output_tokens": 58}})
            loop.log_turn(
                id=turn_id, question=question, agent_response=answer, user_id=user, session_id=session,
                signals=extra.get("signals"), history=list(history), prompt_version=extra.get("prompt", "support-agent@2"),
                model=extra.get("model", "gpt-4o-mini"), retrieved=retrieved, tool_calls=tool_calls,
                metadata={"plan": plan, "channel": "web"}, variant=extra.get("variant", "A"), timestamp=at, steps=steps,
            )
            if "feedback" in extra:
                rating, comment, correction = extra["feedback"]
                loop.feedback(turn_id, rating, comment=comment or None, correction=correction or None, user_id=user,
                              id=str(uuid.uuid5(NAMESPACE, f"feedback:{turn_id}")))
            history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
            sent += 1
    # Feedback that arrived before its turn (the turn is never logged in the demo): "waiting".
    loop.feedback(str(uuid.uuid5(NAMESPACE, "late-turn")), "down", comment="The bot hung up on me.",
                  user_id="guest-7781", id=str(uuid.uuid5(NAMESPACE, "late-feedback")))
    loop.flush(timeout=30)
    loop.shutdown()
    return sent


def seed_triage(*, project_id: str) -> dict:
    """Review queues for the demo project, with the reviewers assigned and a few decisions; then
    the problems backlog (apps/demo/problems.py)."""
    from django.db import close_old_connections

    from apps.core.roles import Role
    from apps.organizations.models import Membership
    from apps.projects.models import Project
    from apps.demo.review import seed_review_demo

    close_old_connections()
    project = Project.all_tenants.select_related("organization").get(pk=project_id)  # unscoped: the demo names its project
    reviewers = list(
        Membership.objects.for_org(project.organization).filter(role__in=[Role.REVIEWER, Role.OWNER]).select_related("user")
    )
    from apps.demo.judge import seed_judge_demo

    judged = seed_judge_demo(project=project)  # before review, so the judge's signals are routed too
    result = seed_review_demo(project=project, reviewers=reviewers)
    result["judge_positive"] = judged
    from apps.demo.retention import seed_retention_demo

    # Before the backlog: its turns (old, held, due) are detected and clustered with the rest.
    result["retention"] = seed_retention_demo(project=project)
    from apps.demo.problems import seed_problems_demo

    result["problems"] = seed_problems_demo(project=project)
    from apps.demo.datasets import seed_datasets_demo

    result["datasets"] = seed_datasets_demo(project=project, reviewer=reviewers[0].user if reviewers else None)
    from apps.demo.experiments import seed_experiments_demo

    result["experiments"] = seed_experiments_demo(project=project)

    from apps.demo.validations import seed_validations_demo

    result["validations"] = seed_validations_demo(project=project)
    from apps.demo.end_users import seed_end_users_demo

    result["end_users"] = seed_end_users_demo(project=project)
    return result
