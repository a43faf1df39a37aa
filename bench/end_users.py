"""An end user's export and deletion at 10,000 turns (3 steps and 2 signals each), with a
background of other users in the same project, timed (target from the issue: each under 10 s).

    .venv/bin/python bench/end_users.py                  # embedded PostgreSQL in a temp folder
    DATABASE_URL=postgresql://… .venv/bin/python bench/end_users.py [--turns 10000] [--others 20000]

Prints the export's seconds and size (it holds one chunk of 500 turns at a time), the deletion's seconds and counts, and, as the floor of the same run, a plain
``DELETE … WHERE turn_id = ANY(…)`` of the same number of rows in the background users' tables.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _setup() -> None:
    if not os.environ.get("DATABASE_URL"):
        os.environ.setdefault("AGENTLOOP_DATA_DIR", tempfile.mkdtemp(prefix="agentloop-bench-end-users-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("DJANGO_DEBUG", "false")
    import django

    django.setup()


def _fill(project, end_user_id: str, count: int) -> list:
    """``count`` turns of one end user with 3 steps, 2 signals each (and a feedback row on every tenth)."""
    from django.utils import timezone

    from apps.traces.models import Feedback, Signal, Step, Turn

    now = timezone.now()
    turns = [Turn(project=project, id=uuid.uuid4(), session_id=f"s-{end_user_id}-{i // 5}", end_user_id=end_user_id,
                  input=f"Question {i} from {end_user_id}: where is my order?", output=f"Answer {i}.", created_at=now)
             for i in range(count)]
    Turn.objects.bulk_create(turns, batch_size=2000)
    Step.objects.bulk_create([Step(project=project, turn_id=t.id, span_id=f"{t.id.hex[:12]}{k}", kind="llm", name="call",
                                   input={"q": t.input}, output={"a": t.output}) for t in turns for k in range(3)], batch_size=5000)
    Signal.objects.bulk_create([Signal(project=project, turn_id=t.id, kind=kind, value=True)
                                for t in turns for kind in ("thumbs_down", "rephrase")], batch_size=5000)
    Feedback.objects.bulk_create([Feedback(project=project, id=uuid.uuid4(), turn_id=t.id, end_user_id=end_user_id,
                                           rating="down", comment="Not helpful") for t in turns[::10]], batch_size=5000)
    return [t.id for t in turns]


def _plain_delete_floor(project, turn_ids) -> float:
    """The same shape of work with nothing around it: raw deletes of steps, signals and turns."""
    from apps.core.sql import tenant_sql

    started = time.perf_counter()
    with tenant_sql(project=project) as cursor:
        for table, column in (("traces_step", "turn_id"), ("traces_signal", "turn_id"),
                              ("feedback_feedback", "turn_id"), ("traces_turn", "id")):
            cursor.execute(f"DELETE FROM {table} WHERE project_id = %(project_id)s AND {column} = ANY(%(ids)s)", {"ids": turn_ids})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--others", type=int, default=20_000, help="Turns of other end users in the same project")
    args = parser.parse_args()
    _setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from apps.core.audit import SYSTEM
    from apps.governance.end_users.selectors import end_user_export
    from apps.governance.end_users.services import end_user_delete
    from apps.organizations.services import organization_create
    from apps.projects.services import project_create
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(email=f"bench-{uuid.uuid4().hex[:6]}@bench.test", password="x")
    organization = organization_create(name=f"Bench {uuid.uuid4().hex[:6]}", owner=user, actor=SYSTEM)
    project = project_create(organization=organization, name="bench", actor=SYSTEM)
    started = time.perf_counter()
    _fill(project, "bench-user", args.turns)
    for number in range(max(args.others // 1000, 1)):
        _fill(project, f"other-{number}", min(1000, args.others))
    floor_ids = _fill(project, "floor-user", args.turns)
    print(f"setup: {args.turns:,} turns of the user (+{args.others:,} of others), {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    size = sum(len(piece) for piece in end_user_export(projects=[project], end_user_id="bench-user"))
    export_s = time.perf_counter() - started
    print(f"1. export of {args.turns:,} turns (3 steps, 2 signals each): {export_s:.2f} s, {size / 1e6:.1f} MB   target < 10 s")

    started = time.perf_counter()
    result = end_user_delete(organization=organization, projects=[project], end_user_id="bench-user", actor=SYSTEM)
    delete_s = time.perf_counter() - started
    floor_s = _plain_delete_floor(project, floor_ids)
    counts = ", ".join(f"{kind} {count:,}" for kind, count in result["deleted"].items())
    print(f"2. deletion: {delete_s:.2f} s ({counts})   target < 10 s")
    print(f"   floor: raw DELETEs of the same rows of another user {floor_s:.2f} s, ratio {delete_s / floor_s:.1f}x")


if __name__ == "__main__":
    main()
