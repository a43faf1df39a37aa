"""The demo's changes and validations (after the prompts, traffic, problems and datasets exist):
the backlog's top problem gets a change with candidate support-agent v3; an offline validation of
the demo's experiment pair on "Refund failures" (v3 against v2 on one dataset version: an exact
McNemar ``ship`` on ``matches-correction`` with the flipped cases listed, apps.demo.experiments);
two online validations
on demo traffic with two variants — one ``ship`` (A vs B) and one still ``running`` toward its
horizon (A vs C) —; the ship promotes v3 to production; the post-deploy watch then compares v3's
hours since the promotion with v2's same hours a week earlier and raises a regression (escalation)
shown with its rollback button. The A/B turns are written straight to the database (backdated,
enough of them for a test to reach its horizon). Idempotent: a second run changes nothing."""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

from apps.core.audit import Actor
from apps.demo.experiments import NAMES as EXPERIMENTS
from apps.experiments.models import Change, Experiment, Prompt
from apps.experiments.services.changes import change_create, change_promote
from apps.experiments.services.prompts import Author
from apps.experiments.services.validations import validation_request, validation_run
from apps.experiments.services.watch import watch_change
from apps.problems.models import Problem
from apps.traces.models import Signal, Turn

TITLE = "Cite the refund policy instead of punting"


def _arm(project, *, variant: str, prompt_version: str, turns: int, signals: dict[str, int], at: dt.datetime) -> None:
    rows = Turn.objects.bulk_create([
        Turn(project=project, id=uuid.uuid4(), variant=variant, prompt_version=prompt_version, input="Can I get a refund?",
             output="Refunds are available within 30 days.", created_at=at - dt.timedelta(seconds=index * 7))
        for index in range(turns)])
    Signal.objects.bulk_create([Signal(project=project, turn_id=t.id, kind=kind, value=True)
                                for kind, count in signals.items() for t in rows[:count]])


def seed_validations_demo(*, project, actor: Actor | None = None, now: dt.datetime | None = None) -> dict:
    existing = Change.objects.for_project(project).filter(title=TITLE).first()
    if existing is not None:
        return {"change": existing.pk}
    prompt = Prompt.objects.for_project(project).filter(name="support-agent").first()
    if prompt is None or prompt.latest_version < 3:
        return {}
    now = now or timezone.now()
    actor = actor or Actor(user=None, ip_address="127.0.0.1")
    author = Author(actor=actor, label="" if actor.user else "demo")
    top = Problem.objects.for_project(project).order_by("-pain").first()
    day = now - dt.timedelta(days=2)
    _arm(project, variant="A", prompt_version="support-agent@2", turns=1500, signals={"thumbs_down": 180, "escalation": 75}, at=day)
    _arm(project, variant="B", prompt_version="support-agent@3", turns=1500, signals={"thumbs_down": 90, "escalation": 72}, at=day)
    _arm(project, variant="C", prompt_version="support-agent@3", turns=600, signals={"thumbs_down": 66, "escalation": 30}, at=day)
    change = change_create(project=project, title=TITLE, prompt="support-agent", candidate=3, baseline=2,
                           problems=[top.pk] if top else [], author=author,
                           description="v3 answers refund questions from the policy and asks before escalating.")
    result = {"change": change.pk}
    pair = {e.name: e.pk for e in Experiment.objects.for_project(project).filter(name__in=EXPERIMENTS)}
    if len(pair) == 2:
        offline, _ = validation_request(project=project, change=change, body={
            "kind": "offline", "baseline": pair[EXPERIMENTS[0]], "candidate": pair[EXPERIMENTS[1]],
            "metrics": ["matches-correction", "no-punt", "judge"]})
        offline = validation_run(validation=offline)
        result["offline"], result["offline_verdict"] = offline.pk, offline.verdict
    guardrails = [{"signal": "escalation", "direction": "decrease", "tolerance": 0.01}]
    target = {"signal": "thumbs_down", "direction": "decrease"}
    running, _ = validation_request(project=project, change=change, body={
        "kind": "online", "baseline": {"variant": "A"}, "candidate": {"variant": "C"}, "target": target,
        "guardrails": guardrails, "min_detectable_effect": 0.01})
    validation_run(validation=running)
    shipped, _ = validation_request(project=project, change=change, body={
        "kind": "online", "baseline": {"variant": "A"}, "candidate": {"variant": "B"}, "target": target,
        "guardrails": guardrails, "min_detectable_effect": 0.05})
    shipped = validation_run(validation=shipped)
    result.update(running=running.pk, ship=shipped.pk, verdict=shipped.verdict)
    if shipped.verdict != "ship":
        return result
    change = change_promote(change=change, author=author, role="owner")
    change.promoted_at = now - dt.timedelta(hours=6)
    change.save(update_fields=["promoted_at"])
    week = dt.timedelta(days=7)
    _arm(project, variant="", prompt_version="support-agent@2", turns=400, signals={"thumbs_down": 48, "escalation": 20},
         at=now - week - dt.timedelta(hours=1))
    _arm(project, variant="", prompt_version="support-agent@3", turns=400, signals={"thumbs_down": 30, "escalation": 72},
         at=now - dt.timedelta(hours=1))
    result["regressions"] = [r.signal for r in watch_change(change=change, now=now)]
    return result
