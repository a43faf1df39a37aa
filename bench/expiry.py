"""Retention expiry of a large project while ingestion continues: duration and ingestion latency.

    .venv/bin/python bench/expiry.py [--turns 1000000] [--rps 20] [--idle-seconds 20]

Starts its own server (embedded PostgreSQL/Redis in a temporary folder unless DATABASE_URL and
REDIS_URL are set; gunicorn on loopback), seeds ``--turns`` turns 60 days old, each with 3 steps
and 2 signals, with ``INSERT … SELECT generate_series`` (plus 1 % of them held by a pending review
item), then:
  1. idle: p50/p99 of single ``POST /api/v1/turns`` into the same project at ``--rps`` (open loop)
  2. expiry: ``manage.py expire --project`` (the job's code, bounded batches) while the same
     request stream keeps posting into that project; its wall time and the latency during it
and verifies that every due turn, step and signal is gone, the held ones and the fresh ones stay.
Targets (issue 13): 1,000,000 turns expire in < 120 s; p99 during expiry <= 2x idle p99.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time

from _server import ROOT, Server, connect
from ingest import post_turn

SEED_SQL = """
INSERT INTO traces_turn (project_id, id, session_id, end_user_id, input, output, history, prompt_version, model,
                         retrieved, tool_calls, metadata, variant, source, created_at, received_at, review_state)
SELECT %(project)s::uuid, md5(%(project)s::text || g::text)::uuid, 'session-' || (g / 4), 'user-' || (g %% 5000),
       'How do I change the billing address on invoice ' || g || '? I tried the settings page.',
       'Open Billing, then Details, and edit the address.', '[]', 'support-v12', 'gpt-4o-mini',
       '[]', '[]', '{}', '', 'sdk', now() - interval '60 days' + g * interval '1 millisecond',
       now() - interval '60 days', 'unreviewed'
FROM generate_series(%(start)s::int, %(stop)s::int) AS g;
INSERT INTO traces_step (project_id, turn_id, span_id, parent_span_id, kind, name, error, attributes, received_at, waiting)
SELECT %(project)s::uuid, md5(%(project)s::text || g::text)::uuid, 'span-' || s, '', 'llm', 'call ' || s, '', '{}', now(), false
FROM generate_series(%(start)s::int, %(stop)s::int) AS g, generate_series(1, 3) AS s;
INSERT INTO traces_signal (project_id, turn_id, kind, value, source, dedupe_key, created_at, waiting)
SELECT %(project)s::uuid, md5(%(project)s::text || g::text)::uuid, k, 'true', 'sdk', '', now(), false
FROM generate_series(%(start)s::int, %(stop)s::int) AS g, unnest(ARRAY['thumbs_down', 'rephrase']) AS k;
"""


def seed(conn, project_id: str, turns: int) -> float:
    started = time.perf_counter()
    chunk = 200_000
    for start in range(1, turns + 1, chunk):
        for statement in SEED_SQL.split(";")[:-1]:
            conn.execute(statement, {"project": project_id, "start": start, "stop": min(turns, start + chunk - 1)})
    for table in ("traces_turn", "traces_step", "traces_signal"):
        conn.execute(f"ANALYZE {table}")
    conn.execute("CHECKPOINT")  # the seed's own dirty pages are written now, not during the idle measurement
    return time.perf_counter() - started


def hold_some(project_id: str, turns: int) -> int:
    """Put every 100th seeded turn in a pending review item (through the ORM: the queue has defaults)."""
    import django

    django.setup()
    from django.db import connection

    from apps.review.models import ReviewQueue

    queue = ReviewQueue.all_tenants.create(project_id=project_id, name="Bench hold")  # unscoped: bench setup
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO review_reviewitem (project_id, queue_id, turn_id, priority, state, note, created_at) "
            "SELECT %s::uuid, %s, md5(%s::text || g::text)::uuid, 0, 'pending', '', now() FROM generate_series(1, %s::int, 100) AS g",
            [project_id, queue.pk, project_id, turns],
        )
        return cursor.rowcount


def latency_stream(server: Server, rps: int, keep_going) -> dict:
    """Open-loop POST /api/v1/turns at ``rps`` while ``keep_going()``; latency percentiles."""
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()

    def one(index: int):
        status, elapsed = post_turn(server, index, timeout=60)
        with lock:
            (latencies.append(elapsed) if status == 201 else failures.append(status))

    threads, index, origin = [], 0, time.perf_counter()
    while keep_going():
        delay = origin + index * (1.0 / rps) - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        thread = threading.Thread(target=one, args=(index,))
        thread.start()
        threads.append(thread)
        index += 1
    for thread in threads:
        thread.join()
    latencies.sort()
    pick = lambda q: round(latencies[max(0, int(len(latencies) * q) - 1)], 2)  # noqa: E731
    return {"requests": len(latencies), "failures": len(failures), "p50_ms": round(statistics.median(latencies), 2),
            "p99_ms": pick(0.99), "max_ms": round(latencies[-1], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=1_000_000)
    parser.add_argument("--rps", type=int, default=20)
    parser.add_argument("--idle-seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, help="passed to manage.py expire (default: the job's)")
    args = parser.parse_args()

    server = Server(workers=args.workers)
    try:
        conn = connect(server.dsn())
        project = server.project_id
        seconds = seed(conn, project, args.turns)
        held = hold_some(project, args.turns)
        print(f"seeded {args.turns:,} turns, {3 * args.turns:,} steps, {2 * args.turns:,} signals in {seconds:.1f} s; {held:,} held")

        warm = time.monotonic() + 3  # first requests of each worker (connections, caches) are not "idle" latency
        warmup = latency_stream(server, args.rps, lambda: time.monotonic() < warm)
        deadline = time.monotonic() + args.idle_seconds
        idle = latency_stream(server, args.rps, lambda: time.monotonic() < deadline)
        print(f"idle ingestion:   {idle}")

        started = time.perf_counter()
        extra = ["--batch-size", str(args.batch_size)] if args.batch_size else []
        job = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "expire", "--project", project, *extra],
                               env=server.env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        during = latency_stream(server, args.rps, lambda: job.poll() is None)
        output = job.communicate()[0]
        elapsed = time.perf_counter() - started
        print(output.strip().splitlines()[-1])
        print(f"during expiry:    {during}")

        left = conn.execute(
            "SELECT (SELECT count(*) FROM traces_turn WHERE project_id = %(p)s AND created_at < now() - interval '30 days'),"
            " (SELECT count(*) FROM traces_step WHERE project_id = %(p)s),"
            " (SELECT count(*) FROM traces_signal WHERE project_id = %(p)s AND source = 'sdk' AND kind = 'rephrase'),"
            " (SELECT count(*) FROM traces_turn WHERE project_id = %(p)s AND created_at >= now() - interval '30 days'),"
            " (SELECT count(*) FROM governance_expiryday WHERE project_id = %(p)s)", {"p": project},
        ).fetchone()
        old_left, steps_left, rephrase_left, fresh, days = left
        expected_fresh = warmup["requests"] + idle["requests"] + during["requests"]
        assert job.returncode == 0, job.returncode
        assert old_left == held and steps_left == 3 * held and rephrase_left == held, left
        assert fresh == expected_fresh, (fresh, expected_fresh)
        expired = args.turns - held
        ratio = during["p99_ms"] / idle["p99_ms"]
        print(f"expired {expired:,} turns ({5 * expired:,} children) in {elapsed:.1f} s "
              f"({expired / elapsed:,.0f} turns/s; 1,000,000 at this rate: {1_000_000 * elapsed / expired:.0f} s); "
              f"target < 120 s for 1,000,000: {'met' if 1_000_000 * elapsed / expired < 120 else 'MISSED'}")
        print(f"ingestion p99 during/idle = {during['p99_ms']} / {idle['p99_ms']} ms = {ratio:.2f}x; "
              f"target <= 2x: {'met' if ratio <= 2 else 'MISSED'}; {fresh:,} fresh turns stored, none lost")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
