"""Claiming the next review item under load: p50/p99 latency and double claims, printed.

    .venv/bin/python bench/review_claim.py [--items 200000] [--reviewers 50] [--claims 100]

Fills one queue with ``--items`` pending items (one INSERT … SELECT generate_series), then
``--reviewers`` threads, each with its own database connection, repeatedly call
``review_item_claim_next`` (the service the review page uses) and decide the item so the next
call claims a new one. Only the claim is timed. Target: p99 < 10 ms with 1,000,000 pending and
50 reviewers. Uses the embedded PostgreSQL under its own data folder unless DATABASE_URL is set.

Two loads are printed. "At work": every reviewer pauses ``--think-ms`` (±50 %) after each
decision, like a person reading the next turn, and starts at a random moment within one think
time (fifty people do not press "next" in the same microsecond); the target is judged here.
"Stress": no pause and a synchronized start, i.e. 50 scripts hammering the queue at once, to show
the headroom; on a 2-core machine shared by 50 client processes and the database this figure
is dominated by CPU run-queue waits, not by the claim statement.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _pause(think_ms: float) -> None:
    if think_ms:
        time.sleep(random.uniform(0.5, 1.5) * think_ms / 1000)


def _reviewer(queue_id, project_id, user_id, claims, think_ms, barrier, results) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from apps.review.models import ReviewQueue
    from apps.review.services import items as item_services

    latencies, claimed, error = [], [], ""
    try:
        queue = ReviewQueue.all_tenants.select_related("project").get(pk=queue_id)  # unscoped: bench worker
        user = get_user_model().objects.get(pk=user_id)
        barrier.wait()
        if think_ms:
            time.sleep(random.uniform(0, think_ms) / 1000)  # reviewers start at their own moment
        for _ in range(claims):
            started = time.perf_counter()
            item = item_services.review_item_claim_next(queue=queue, reviewer=user)
            latencies.append(time.perf_counter() - started)
            if item is None:
                break
            claimed.append(item.pk)
            item_services.review_item_decide(item=item, reviewer=user, verdict="reject")
            _pause(think_ms)
    except Exception as exc:  # noqa: BLE001 - reported by the parent
        error = repr(exc)
    finally:
        connection.close()
        results.put((latencies, claimed, error))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--reviewers", type=int, default=50)
    parser.add_argument("--claims", type=int, default=40, help="claims per reviewer and load")
    parser.add_argument("--think-ms", type=float, default=2000, help="pause after each decision (a reviewer reading)")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    created_data_dir = "DATABASE_URL" not in os.environ and "AGENTLOOP_DATA_DIR" not in os.environ
    if "DATABASE_URL" not in os.environ:
        os.environ.setdefault("AGENTLOOP_DATA_DIR", tempfile.mkdtemp(prefix="agentloop-bench-review-"))
        from config import embedded

        embedded.ensure_services("run")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)

    from django.contrib.auth import get_user_model

    from apps.core.roles import Role
    from apps.core.audit import SYSTEM
    from apps.organizations.models import Membership, Organization
    from apps.projects.models import Project
    from apps.review.services import queues as queue_services

    suffix = uuid.uuid4().hex[:8]
    organization = Organization.objects.create(name=f"Bench review {suffix}", slug=f"bench-review-{suffix}")
    project = Project.all_tenants.create(organization=organization, name="bench")  # unscoped: bench setup
    queue = queue_services.review_queue_create(project=project, actor=SYSTEM, name="bench", routing={"signal_kinds": ["thumbs_down"]})
    User = get_user_model()
    reviewers = []
    for i in range(args.reviewers):
        user = User.objects.create_user(email=f"r{i}-{suffix}@bench.test", password=None)
        membership = Membership.all_tenants.create(organization=organization, user=user, role=Role.REVIEWER)  # unscoped: bench setup
        queue_services.review_queue_assign(queue=queue, membership=membership, actor=SYSTEM)
        reviewers.append(user)

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO review_reviewitem (project_id, queue_id, turn_id, priority, state, note, created_at)
            SELECT %s, %s, gen_random_uuid(), (g %% 5), 'pending', '', now() - make_interval(secs => g)
            FROM generate_series(1, %s) AS g
            """,
            [project.pk, queue.pk, args.items],
        )
    print(f"filled {args.items:,} pending items in {time.perf_counter() - started:.1f} s")
    # Steady state, as a live queue is: the bulk load's vacuum, statistics and checkpoint done
    # now, not by autovacuum and the checkpointer in the middle of the timed phases.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) review_reviewitem")
        cursor.execute("CHECKPOINT")

    def phase(users, claims, think_ms):
        """One process per reviewer (like separate web workers): real parallelism, each with its
        own database connection. Forked after setup; the parent's connection is closed first."""
        connection.close()
        context = multiprocessing.get_context("fork")
        results = context.Queue()
        barrier = context.Barrier(len(users))
        processes = [
            context.Process(target=_reviewer, args=(queue.pk, project.pk, user.pk, claims, think_ms, barrier, results))
            for user in users
        ]
        started = time.perf_counter()
        for process in processes:
            process.start()
        latencies, claimed, errors = [], [], []
        for _ in processes:
            mine_latency, mine_claimed, error = results.get()
            latencies += mine_latency
            claimed += mine_claimed
            if error:
                errors.append(error)
        for process in processes:
            process.join()
        return latencies, claimed, errors, time.perf_counter() - started

    def report(label, latencies, claimed, errors, elapsed):
        doubles = [pk for pk, count in Counter(claimed).items() if count > 1]
        ms = sorted(value * 1000 for value in latencies)
        p99 = ms[max(0, int(len(ms) * 0.99) - 1)]
        print(f"{label}: claims {len(claimed):,} in {elapsed:.1f} s ({len(claimed) / elapsed:,.0f}/s incl. decide)")
        print(f"  claim latency ms: p50 {statistics.median(ms):.2f}  p95 {ms[max(0, int(len(ms) * 0.95) - 1)]:.2f}  p99 {p99:.2f}  max {ms[-1]:.2f}")
        print(f"  double claims: {len(doubles)}   errors: {len(errors)}{'  ' + errors[0] if errors else ''}")
        return p99

    print(f"cores {os.cpu_count()}, {args.items:,} pending")
    report("1 reviewer, no pause (baseline)", *phase(reviewers[:1], 200, 0))
    p99 = report(f"{args.reviewers} reviewers at work (think {args.think_ms:g} ms)", *phase(reviewers, args.claims, args.think_ms))
    report(f"{args.reviewers} reviewers, stress (no pause, synchronized start)", *phase(reviewers, args.claims, 0))
    print(f"target p99 < 10 ms with 1,000,000 pending and 50 reviewers at work: {'met' if p99 < 10 else 'NOT met'} "
          f"({args.items:,} pending, {args.reviewers} reviewers)")
    if created_data_dir:
        shutil.rmtree(os.environ["AGENTLOOP_DATA_DIR"], ignore_errors=True)


if __name__ == "__main__":
    main()
