"""Detector throughput: turns/s on one core, in-process and end to end with the database.

    .venv/bin/python bench/detectors.py [--sessions 5000] [--chunk 250] [--db-sessions 300]

1. In-process (no DB): ``run_detectors`` with every built-in detector and two customer rules
   over realistic synthetic sessions (1–8 turns, rephrases, follow-ups, punts, escalations,
   tool errors, empty retrievals, returning users), in chunks as the sweep and the per-session
   tasks hand them over. Single process, so the figure is per core. Target: 20,000 turns/s.
2. End to end: ``detect_session`` (load turns, signals, steps and history; run; one bulk
   INSERT … ON CONFLICT) per session against embedded PostgreSQL in a temporary folder
   (unless DATABASE_URL is set), then the same again to show the idempotent re-run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOPICS = [
    ("How do I reset my password?", "how can I change my password", "Open Settings → Security and click Reset password."),
    ("How do I export my data to CSV?", "how to export data as a csv file", "Use Reports → Export and pick CSV."),
    ("Where is my order #{n}?", "where is my order {n}, it has not arrived", "Order {n} shipped yesterday and arrives tomorrow."),
    ("Can I get a refund for my annual plan?", "refund for the annual plan please", "Annual plans are refundable within 30 days."),
    ("Which plans include SSO?", "what plan do I need for SSO", "SSO is part of the Business and Enterprise plans."),
    ("How do I add a teammate to my workspace?", "add teammate workspace how", "Go to Members and click Invite."),
    ("Why was my card declined?", "my card got declined why", "Declines usually come from the bank; try another card."),
    ("How do I change the billing address on invoice {n}?", "change billing address invoice {n}", "Open Billing → Details and edit the address."),
]
FOLLOW_UPS = ["And what if that does not work?", "Thanks, that worked!", "What about on mobile?", "Also, can I do it in bulk?", "Ok great"]
PUNTS = ["I'm sorry, I don't know.", "Please contact support for that.", "I am unable to access your account."]


def synthetic_sessions(count: int, seed: int = 7):
    from apps.detection.detectors import TurnData

    rng = random.Random(seed)
    now = dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone.utc)
    sessions = []
    for s in range(count):
        user = f"user-{rng.randrange(count // 3 + 1)}"
        start = now - dt.timedelta(minutes=rng.randrange(24 * 60))
        turns = []
        at = start
        for index in range(rng.randint(1, 8)):
            topic = rng.choice(TOPICS)
            roll = rng.random()
            n = rng.randrange(10_000)
            if index and roll < 0.15:
                question = topic[1].format(n=n)
            elif index and roll < 0.4:
                question = rng.choice(FOLLOW_UPS)
            elif roll < 0.45:
                question = "I want to talk to a human"
            else:
                question = topic[0].format(n=n) + (" I tried the settings page already." if rng.random() < 0.5 else "")
            answer = rng.choice(PUNTS) if rng.random() < 0.1 else topic[2].format(n=n) + " Anything else?" * (rng.random() < 0.2)
            retrieved = [] if rng.random() < 0.1 else [{"id": f"kb-{rng.randrange(300)}", "score": round(rng.random(), 2)} for _ in range(3)]
            turns.append(TurnData(
                id=uuid.UUID(int=rng.getrandbits(128)), session_id=f"session-{s}", end_user_id=user, created_at=at,
                question=question, answer=answer, model="gpt-4o-mini", prompt_version=rng.choice(["v11", "v12"]),
                variant=rng.choice("AB"), metadata={"plan": rng.choice(["free", "pro", "enterprise"]), "confidence": round(rng.random() * 0.4 if rng.random() < 0.05 else 0.6 + rng.random() * 0.4, 2)},
                retrieved=retrieved, retrieval_attempted=True,
                tool_calls=[{"name": "lookup", "error": "timeout" if rng.random() < 0.05 else None}],
                signals={"thumbs_down": True} if rng.random() < 0.1 else {},
            ))
            at += dt.timedelta(seconds=rng.randrange(20, 900))
        sessions.append(turns)
    return sessions, now + dt.timedelta(days=1)


def bench_in_process(sessions_count: int, chunk: int) -> None:
    from apps.detection.config import DetectorConfig
    from apps.detection.detectors import CompiledRule, run_detectors
    from apps.detection.rules import parse

    sessions, now = synthetic_sessions(sessions_count)
    turns = sum(len(s) for s in sessions)
    config = DetectorConfig()
    rules = [
        CompiledRule(1, "enterprise_unhappy", parse('metadata.plan == "enterprise" and signals.thumbs_down')),
        CompiledRule(2, "v12_low", parse('prompt_version == "v12" and metadata.confidence < 0.2')),
    ]
    history = [t for s in sessions[: sessions_count // 4] for t in s]  # earlier sessions of returning users
    run_detectors(sessions[:chunk], config, now=now, rules=rules)  # warm caches (regexes)
    # CPU time of this process is the per-core figure (the machine may be shared); wall time is
    # printed next to it.
    for label, hist in (("no history", []), ("with history", history)):
        wall, cpu = time.perf_counter(), time.process_time()
        found = 0
        for i in range(0, len(sessions), chunk):
            found += len(run_detectors(sessions[i:i + chunk], config, now=now, rules=rules, history=hist).detections)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"in-process ({label}, chunks of {chunk} sessions): {turns} turns, {turns / cpu:,.0f} turns/s per core "
              f"(CPU time; wall {turns / wall:,.0f}/s); target 20,000; {found} detections")
    wall, cpu = time.perf_counter(), time.process_time()
    for session in sessions[:2000]:
        run_detectors([session], config, now=now, rules=rules)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    single_turns = sum(len(s) for s in sessions[:2000])
    print(f"in-process, one session per call (the per-session task): {single_turns / cpu:,.0f} turns/s per core "
          f"(CPU time; wall {single_turns / wall:,.0f}/s)")


def bench_database(sessions_count: int) -> None:
    os.environ.setdefault("AGENTLOOP_DATA_DIR", tempfile.mkdtemp(prefix="agentloop-bench-det-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from config import embedded

    embedded.ensure_services("run")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from apps.detection.services import detect_session
    from apps.organizations.models import Organization
    from apps.projects.models import Project
    from apps.traces.models import Signal
    from apps.traces.services.ingest import ingest_items

    org = Organization.objects.create(name=f"bench {time.time_ns()}", slug=f"bench-{time.time_ns()}")
    project = Project.all_tenants.create(organization=org, name="bench")  # unscoped: bench setup
    sessions, _ = synthetic_sessions(sessions_count, seed=11)
    base = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    items = []
    for session in sessions:
        for t in session:
            items.append({"type": "turn", "body": {
                "id": str(t.id), "session_id": t.session_id, "user_id": t.end_user_id, "question": t.question,
                "agent_response": t.answer, "model": t.model, "prompt_version": t.prompt_version, "variant": t.variant,
                "metadata": t.metadata, "retrieved": t.retrieved, "tool_calls": t.tool_calls, "signals": t.signals,
                "timestamp": (base + (t.created_at - sessions[0][0].created_at)).isoformat(),
            }})
    for i in range(0, len(items), 500):
        ingest_items(project=project, items=items[i:i + 500])
    turns = len(items)
    for label in ("first run", "re-run (idempotent)"):
        started = time.perf_counter()
        for session in sessions:
            detect_session(project=project, session_id=session[0].session_id)
        elapsed = time.perf_counter() - started
        stored = Signal.objects.for_project(project).filter(source="detector").count()
        print(f"end to end with PostgreSQL ({label}): {turns} turns / {len(sessions)} sessions in {elapsed:.2f}s = "
              f"{turns / elapsed:,.0f} turns/s, {len(sessions) / elapsed:,.0f} sessions/s; detector signals stored: {stored}")
    bench_database_batched(project, sessions)


def bench_database_batched(project, sessions) -> None:
    from apps.detection.models import DetectionPass
    from apps.detection.services import detect_turns

    DetectionPass.objects.for_project(project).delete()
    ids = [t.id for session in sessions for t in session]
    started = time.perf_counter()
    for i in range(0, len(ids), 500):
        detect_turns(project=project, turn_ids=ids[i:i + 500])
    elapsed = time.perf_counter() - started
    print(f"end to end with PostgreSQL, sweep-style chunks of 500 turns (detect_turns): {len(ids)} turns in {elapsed:.2f}s = "
          f"{len(ids) / elapsed:,.0f} turns/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--chunk", type=int, default=250)
    parser.add_argument("--db-sessions", type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    bench_in_process(args.sessions, args.chunk)
    if args.db_sessions:
        bench_database(args.db_sessions)


if __name__ == "__main__":
    main()
