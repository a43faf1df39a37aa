"""Eval datasets at 10,000 and 100,000 cases: adding, snapshotting, diffing, exporting, and the
export's memory, with baselines from the same run.

    .venv/bin/python bench/datasets.py                  # embedded PostgreSQL in a temp folder
    DATABASE_URL=postgresql://… .venv/bin/python bench/datasets.py [--cases 10000] [--large 100000]

Inserts ``--cases`` turns, each with a confirmed review decision carrying a correction, then times
(targets from the issue: each under 5 s):
  1. adding the 10,000 confirmed turns to a dataset (one version; content copied from each turn,
     its latest confirmed decision and its problem) — beside a raw INSERT … SELECT of the same
     rows into a scratch table shaped like the revisions (the baseline);
  2. snapshotting a version that changes every case (all 10,000 moved to another split), and one
     that changes a single case (a version costs what it changes, not the dataset's size);
  3. the diff of the two 10,000-case versions (every case changed);
  4. the JSONL export of 10,000 cases — beside PostgreSQL's COPY … TO STDOUT of the same rows;
  5. the export's peak RSS for 10,000 and ``--large`` cases, each in a fresh process, beside the
     RSS of the same process doing no export (flat memory: the two exports peak alike).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _setup() -> None:
    if not os.environ.get("DATABASE_URL"):
        os.environ.setdefault("AGENTLOOP_DATA_DIR", tempfile.mkdtemp(prefix="agentloop-bench-datasets-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("DJANGO_DEBUG", "false")
    import django

    django.setup()


def _timed(label: str, function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    seconds = time.perf_counter() - started
    return result, seconds


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(dataset_id: int, version: int, export: bool) -> None:
    """A fresh process: export one version to /dev/null (or not) and print its peak RSS in MB."""
    _setup()
    from apps.datasets.models import Dataset
    from apps.datasets.selectors.export import export_bytes

    dataset = Dataset.all_tenants.get(pk=dataset_id)  # unscoped: the bench names its dataset
    rows = 0
    if export:
        with open(os.devnull, "wb") as sink:
            for piece in export_bytes(dataset=dataset, number=version, fmt="jsonl"):
                sink.write(piece)
                rows += piece.count(b"\n")
    print(f"{_peak_rss_mb():.1f} {rows}")


def _rss(dataset_id: int, version: int, export: bool) -> tuple[float, int]:
    out = subprocess.run([sys.executable, __file__, "--child", str(dataset_id), str(version), "1" if export else "0"],
                         check=True, capture_output=True, text=True, env=os.environ).stdout.split()
    return float(out[-2]), int(out[-1])


def _make_turns(project, count: int, reviewer) -> list:
    from django.utils import timezone

    from apps.review.models import Decision, ItemState, ReviewItem, ReviewQueue, Verdict
    from apps.traces.models import Turn

    queue = ReviewQueue.objects.create(project=project, name=f"bench-{uuid.uuid4().hex[:6]}")
    now = timezone.now()
    turns = [Turn(
        project=project, id=uuid.uuid4(), session_id=f"s-{i // 4}", end_user_id=f"u-{i % 3000}",
        input=f"Can I get a refund for order {i} after {i % 60} days? " + "It arrived damaged. " * 5,
        output="Refunds are possible for up to 90 days. " * 4, history=[{"role": "user", "content": "hello"}, {"role": "assistant", "content": "Hi!"}],
        retrieved=[{"id": f"kb-{i % 300}", "score": 0.7, "text": "Refund policy: 30 days. " * 6}],
        tool_calls=[{"name": "lookup_order", "arguments": {"id": i}, "result": {"status": "delivered"}}],
        model="gpt-4o-mini", prompt_version="support-v12", created_at=now,
    ) for i in range(count)]
    Turn.objects.bulk_create(turns, batch_size=5000)
    items = ReviewItem.objects.bulk_create([
        ReviewItem(project=project, queue=queue, turn_id=turn.id, state=ItemState.CONFIRMED, decided_by=[reviewer.pk])
        for turn in turns], batch_size=5000)
    Decision.objects.bulk_create([
        Decision(project=project, item=item, queue=queue, reviewer=reviewer, verdict=Verdict.CONFIRM, category="hallucination",
                 correction=f"Refunds are possible within 30 days of delivery (order {n}).", created_at=now)
        for n, item in enumerate(items)], batch_size=5000)
    return [turn.id for turn in turns]


def _copy_baseline(project, dataset, number: int) -> float:
    """COPY of the version's rows as JSON lines, the floor a streamed export can approach."""
    from django.db import connection

    sql = ("COPY (SELECT row_to_json(r) FROM datasets_caserevision r WHERE project_id = %s AND dataset_id = %s"
           " AND added_in <= %s AND (removed_in IS NULL OR removed_in > %s) ORDER BY position) TO STDOUT")
    connection.ensure_connection()
    started = time.perf_counter()
    with connection.connection.cursor() as cursor, cursor.copy(sql, (project.pk, dataset.pk, number, number)) as copy:
        for _ in copy:
            pass
    return time.perf_counter() - started


def _insert_baseline(project, dataset) -> float:
    """INSERT … SELECT of the same rows into an unindexed scratch copy of the revisions table."""
    from apps.core.sql import tenant_sql

    with tenant_sql(project=project) as cursor:
        cursor.execute("CREATE TEMP TABLE bench_revisions AS SELECT * FROM datasets_caserevision WHERE project_id = %(project_id)s AND false")
        started = time.perf_counter()
        cursor.execute("INSERT INTO bench_revisions SELECT * FROM datasets_caserevision WHERE project_id = %(project_id)s AND dataset_id = %(d)s",
                       {"d": dataset.pk})
        seconds = time.perf_counter() - started
    with tenant_sql(unscoped="the bench drops its scratch table") as cursor:
        cursor.execute("DROP TABLE bench_revisions")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        _child(int(args.child[0]), int(args.child[1]), args.child[2] == "1")
        return
    _setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from apps.core.audit import SYSTEM
    from apps.datasets.selectors.diff import version_diff
    from apps.datasets.selectors.export import export_bytes
    from apps.datasets.services.changes import Author, case_edit, cases_add, cases_move, live_revisions, revision_new
    from apps.datasets.services.datasets import dataset_create
    from apps.datasets.services.turns import cases_add_from_turns
    from apps.organizations.services import organization_create
    from apps.projects.services import project_create
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(email=f"bench-{uuid.uuid4().hex[:6]}@example.test", password="bench-pass-123")
    organization = organization_create(name="Bench datasets", owner=user, actor=SYSTEM)
    project = project_create(organization=organization, name="bench", actor=SYSTEM)
    author = Author.of_user(user)
    turn_ids, seconds = _timed("turns", _make_turns, project, args.cases, user)
    print(f"setup: {args.cases:,} turns with confirmed decisions in {seconds:.1f} s")

    dataset = dataset_create(project=project, name="Bench", actor=SYSTEM)
    (result, _), add_s = _timed("add", cases_add_from_turns, dataset=dataset, author=author, turn_ids=turn_ids, split="regression")
    insert_s = _insert_baseline(project, dataset)
    print(f"1. add {result.added:,} confirmed turns (version {result.number}): {add_s:.2f} s"
          f"   (raw INSERT…SELECT of the same rows {insert_s:.2f} s, ratio {add_s / insert_s:.1f}x)")

    case_ids = list(live_revisions(dataset).values_list("case_id", flat=True))
    moved, move_s = _timed("move", cases_move, dataset=dataset, case_ids=case_ids, split="holdout", author=author)
    one, one_s = _timed("edit", case_edit, dataset=dataset, case_id=case_ids[0], changes={"expected_output": "edited"}, author=author)
    print(f"2. snapshot a version changing all {moved.changed:,} cases: {move_s:.2f} s; changing 1 case: {one_s * 1000:.0f} ms")

    diff, diff_s = _timed("diff", version_diff, dataset=dataset, from_version=1, to_version=2)
    print(f"3. diff v1 → v2 ({diff.changed_count:,} changed, field by field for the first 500): {diff_s:.2f} s")

    def export_all():
        return sum(piece.count(b"\n") for piece in export_bytes(dataset=dataset, number=3, fmt="jsonl"))

    lines, export_s = _timed("export", export_all)
    copy_s = _copy_baseline(project, dataset, 3)
    print(f"4. JSONL export of {lines:,} cases: {export_s:.2f} s   (COPY … TO STDOUT of the rows {copy_s:.2f} s, ratio {export_s / copy_s:.1f}x)")

    large = dataset_create(project=project, name="Bench large", actor=SYSTEM)
    started = time.perf_counter()
    for start in range(0, args.large, 20_000):
        cases_add(dataset=large, author=author, revisions=[
            revision_new({"input": f"Question {n}? " + "Some context here. " * 10, "expected_output": "An answer. " * 10,
                          "history": [{"role": "user", "content": "hello"}], "context": {"retrieved": [{"text": "doc " * 40}]},
                          "tags": ["bench"], "split": "train"}, source="hand")
            for n in range(start, min(start + 20_000, args.large))])
    large.refresh_from_db()
    print(f"   ({large.cases_count:,} hand cases added in {large.latest_version} versions for the memory run, {time.perf_counter() - started:.1f} s)")

    idle, _ = _rss(dataset.pk, 3, export=False)
    small, small_rows = _rss(dataset.pk, 3, export=True)
    big, big_rows = _rss(large.pk, large.latest_version, export=True)
    print(f"5. export peak RSS: {small_rows:,} cases {small:.0f} MB, {big_rows:,} cases {big:.0f} MB "
          f"(same process without exporting {idle:.0f} MB; {big_rows // max(small_rows, 1)}x the cases, {big / small:.2f}x the memory)")
    targets = {"add": add_s, "snapshot": move_s, "diff": diff_s, "export": export_s}
    print("targets (< 5 s each): " + ", ".join(f"{name} {'ok' if value < 5 else 'MISSED'}" for name, value in targets.items()))


if __name__ == "__main__":
    main()
