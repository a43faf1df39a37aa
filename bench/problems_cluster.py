"""Clustering flagged turns into problems: end-to-end time for 100,000 turns, then 1,000 more.

    .venv/bin/python bench/problems_cluster.py                 # embedded PostgreSQL in a temp folder
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/agentloop_bench_problems \\
        .venv/bin/python bench/problems_cluster.py [--turns 100000] [--unflagged 50000] [--incremental 1000]

Inserts ``--turns`` flagged turns (realistic support questions over a few hundred topics, each
phrased many ways, with numbers, typos and filler; one or two failure signals each: thumbs-down,
rephrase, agent punted, knowledge gap, escalation, tool errors naming the failed tool) plus
``--unflagged`` ordinary turns for the cause baseline, all with one statement per 20,000 rows.
Then times ``problems_cluster`` — the job the beat runs: reading what changed, facts, vectorising,
grouping, writing problems and memberships, counters, pain and causes — end to end, and once more
for ``--incremental`` new turns on top. Target: under 2 minutes for 100,000.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VERBS = [
    "refund", "cancel", "track", "reset", "change", "download", "upgrade", "export", "connect", "delete", "transfer",
    "verify", "renew", "merge", "import", "share", "restore", "schedule", "archive", "unlock", "invite", "sync",
    "print", "translate", "configure", "enable", "disable", "rename", "convert", "approve",
]
NOUNS = [
    "invoice", "password", "subscription", "order", "parcel", "receipt", "workspace", "dashboard", "report", "webhook",
    "token", "voucher", "coupon", "shipment", "warranty", "calendar", "contract", "signature", "avatar", "folder",
    "spreadsheet", "playlist", "reservation", "ticket", "mailbox", "domain", "certificate", "backup", "firmware",
    "printer", "router", "headset", "battery", "charger", "thermostat", "camera", "doorbell", "locker", "pallet",
    "quote", "payout", "deposit", "mortgage", "loan", "pension", "insurance", "claim", "prescription", "appointment",
    "membership", "locker", "badge", "seat", "license", "plugin", "theme", "template", "widget", "chatbot", "survey",
]
BRANDS = [
    "slack", "salesforce", "hubspot", "zapier", "stripe", "paypal", "okta", "azure", "github", "jira", "shopify",
    "quickbooks", "xero", "zendesk", "intercom", "dropbox", "notion", "trello", "asana", "twilio", "mailchimp",
    "outlook", "gmail", "android", "iphone", "ipad", "windows", "linux", "kindle", "alexa",
]
TEMPLATES = [
    "How do I {verb} my {a} {b}?", "how can i {verb} the {a} {b}", "I can't {verb} my {a} {b}, please help",
    "Is it possible to {verb} the {b} on {a} {tail}?", "{verb} {a} {b} please", "I want to {verb} my {a} {b} {tail}",
    "Need help: {verb} {a} {b} #{n}", "why can't I {verb} my {b} in {a}??", "please {verb} {a} {b} {n} asap",
    "trying to {verb} the {b} with {a} but it fails", "what's the way to {verb} a {a} {b}", "{verb} my {b} ({a}) {tail} thanks",
]
TAILS = ["today", "right now", "from last month", "for my team", "on the free plan", "before renewal", "again", "for order {n}"]
TOOLS = {verb: f"{verb}_api" for verb in VERBS}
KINDS = ["thumbs_down", "rephrase", "agent_punted", "escalation", "abandonment", "low_confidence"]


def _typo(text: str, rng: random.Random) -> str:
    if len(text) < 8 or rng.random() > 0.15:
        return text
    i = rng.randrange(1, len(text) - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def _topics(rng: random.Random, count: int = 300) -> list[tuple[str, str, str]]:
    """``count`` topics (verb, brand or noun, noun); two topics share at most one of their three
    words, so a topic is told apart by its words, as support questions about different things are."""
    topics, seen = [], []
    while len(topics) < count:
        verb = rng.choice(VERBS)
        a = rng.choice(BRANDS + NOUNS)
        b = rng.choice(NOUNS)
        words = {verb, a, b}
        if len(words) < 3 or any(len(words & other) > 1 for other in seen):
            continue
        topics.append((verb, a, b))
        seen.append(words)
    return topics


def _turns(count: int, rng: random.Random, now: dt.datetime):
    """(id, text, user, created_at, prompt, topic, signals[(kind, value, source)])"""
    topics = _topics(random.Random(1))
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(topics))]  # a long tail, like real traffic
    rows = []
    for _ in range(count):
        topic = rng.choices(range(len(topics)), weights)[0]
        verb, a, b = topics[topic]
        text = rng.choice(TEMPLATES).format(verb=verb, a=a, b=b, n=rng.randint(100, 99999),
                                            tail=rng.choice(TAILS).format(n=rng.randint(100, 9999)))
        signals = [(kind, True, "sdk" if kind in ("thumbs_down", "escalation") else "detector")
                   for kind in rng.sample(KINDS, rng.choice([1, 1, 2]))]
        if topic % 7 == 0 and rng.random() < 0.7:
            signals.append(("knowledge_gap", {"reason": "empty"}, "detector"))
        if topic % 11 == 0 and rng.random() < 0.8:
            signals.append(("tool_error", {"failed": [TOOLS[verb]]}, "detector"))
        created = now - dt.timedelta(seconds=rng.randint(0, 14 * 86400))
        prompt = "v13" if topic % 13 == 0 else rng.choice(["v11", "v12", "v12"])
        rows.append((uuid.uuid4(), _typo(text, rng), f"user-{rng.randint(1, count // 3)}", created, prompt, topic, signals))
    rows.sort(key=lambda r: r[3])
    return rows


def _insert(project_id, rows) -> None:
    from django.db import connection

    for start in range(0, len(rows), 20_000):
        batch = rows[start:start + 20_000]
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO traces_turn (project_id, id, session_id, end_user_id, input, output, history, prompt_version,
                    model, retrieved, tool_calls, metadata, variant, source, created_at, received_at, review_state)
                SELECT %s, u.id, '', u.usr, u.txt, 'answer', '[]', u.prompt, 'gpt-4o-mini', '[]', '[]', '{}', '', 'sdk',
                       u.created, u.created, 'unreviewed'
                FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::timestamptz[], %s::text[]) AS u(id, txt, usr, created, prompt)
                """,
                [project_id, [r[0] for r in batch], [r[1] for r in batch], [r[2] for r in batch], [r[3] for r in batch],
                 [r[4] for r in batch]],
            )
            signals = [(r[0], kind, json.dumps(value), source, r[3]) for r in batch for kind, value, source in r[6]]
            if signals:
                cursor.execute(
                    """
                    INSERT INTO traces_signal (project_id, turn_id, kind, value, source, dedupe_key, created_at)
                    SELECT %s, u.turn_id, u.kind, u.value::jsonb, u.source, '', u.created
                    FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::timestamptz[])
                        AS u(turn_id, kind, value, source, created)
                    """,
                    [project_id, [s[0] for s in signals], [s[1] for s in signals], [s[2] for s in signals],
                     [s[3] for s in signals], [s[4] for s in signals]],
                )


def _quality(project, rows) -> str:
    from apps.problems.models import ProblemTurn

    topic_of = {r[0]: r[5] for r in rows}
    by_problem: dict = defaultdict(Counter)
    problems_per_topic: dict = defaultdict(set)
    for problem_id, turn_id in ProblemTurn.objects.for_project(project).values_list("problem_id", "turn_id").iterator():
        if turn_id in topic_of:
            by_problem[problem_id][topic_of[turn_id]] += 1
            problems_per_topic[topic_of[turn_id]].add(problem_id)
    total = sum(sum(c.values()) for c in by_problem.values())
    purity = sum(max(c.values()) for c in by_problem.values()) / max(total, 1)
    sizes = sorted((sum(c.values()) for c in by_problem.values()), reverse=True)
    big = [s for s in sizes if s >= 20]
    return (f"purity {purity:.1%} (turns whose problem's main topic is their own), "
            f"{len(by_problem):,} problems ({len(big):,} with ≥ 20 turns, covering {sum(big) / max(total, 1):.0%} of turns), "
            f"median problems per topic {sorted(len(v) for v in problems_per_topic.values())[len(problems_per_topic) // 2]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--unflagged", type=int, default=50_000)
    parser.add_argument("--incremental", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    created_data_dir = not os.environ.get("DATABASE_URL") and "AGENTLOOP_DATA_DIR" not in os.environ
    if not os.environ.get("DATABASE_URL"):
        os.environ.setdefault("AGENTLOOP_DATA_DIR", tempfile.mkdtemp(prefix="agentloop-bench-problems-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("DJANGO_DEBUG", "false")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from apps.organizations.models import Organization
    from apps.problems.models import Problem
    from apps.problems.services.clustering import LAG, problems_cluster
    from apps.projects.models import Project

    rng = random.Random(args.seed)
    now = timezone.now()
    suffix = uuid.uuid4().hex[:8]
    organization = Organization.objects.create(name=f"Bench problems {suffix}", slug=f"bench-problems-{suffix}")
    project = Project.all_tenants.create(organization=organization, name="bench")  # unscoped: bench setup

    started = time.perf_counter()
    flagged = _turns(args.turns, rng, now)
    plain = [(uuid.uuid4(), f"ordinary question {i}", f"user-{i}", now - dt.timedelta(seconds=rng.randint(0, 14 * 86400)),
              rng.choice(["v11", "v12", "v12", "v13"]), -1, []) for i in range(args.unflagged)]
    _insert(project.pk, flagged + plain)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE traces_turn")
        cursor.execute("ANALYZE traces_signal")
    signals = sum(len(r[6]) for r in flagged)
    print(f"inserted {args.turns:,} flagged turns ({signals:,} signals, {len(set(r[5] for r in flagged))} topics) "
          f"and {args.unflagged:,} unflagged turns in {time.perf_counter() - started:.1f} s")

    run_at = now + LAG + dt.timedelta(seconds=1)  # past the job's commit lag: every row settles
    started, cpu = time.perf_counter(), time.process_time()
    summary = problems_cluster(project=project, now=run_at)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    problems = Problem.objects.for_project(project).count()
    with_cause = Problem.objects.for_project(project).exclude(cause="").count()
    print(f"full run: {wall:.1f} s wall ({cpu:.1f} s CPU in Python), {args.turns / wall:,.0f} turns/s; "
          f"placed {summary.get('placed', 0):,} turns into {problems:,} problems ({with_cause:,} with a proposed cause)")
    print(f"  {_quality(project, flagged)}")
    print(f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"target < 120 s for 100,000 flagged turns: {'met' if wall < 120 else 'NOT met'} ({args.turns:,} turns)")

    more = _turns(args.incremental, rng, run_at + dt.timedelta(seconds=5))
    _insert(project.pk, more)
    started = time.perf_counter()
    summary = problems_cluster(project=project, now=run_at + dt.timedelta(minutes=10))
    wall = time.perf_counter() - started
    print(f"incremental run: {args.incremental:,} new turns on top in {wall:.2f} s; joined existing problems "
          f"{summary.get('joined', 0):,}, new problems {summary.get('created', 0):,}, "
          f"problems now {Problem.objects.for_project(project).count():,}")
    started = time.perf_counter()
    summary = problems_cluster(project=project, now=run_at + dt.timedelta(minutes=20))
    print(f"idle run (nothing new; counters and pain refreshed): {time.perf_counter() - started:.2f} s, {summary}")
    if created_data_dir:
        connection.close()
        shutil.rmtree(os.environ["AGENTLOOP_DATA_DIR"], ignore_errors=True)


if __name__ == "__main__":
    main()
