"""The expire job killed mid-run (SIGKILL of a real worker) leaves whole batches: every deleted
turn has its tombstone and no children, every stored turn keeps its children, nothing held is
deleted; the next run finishes the work."""

from __future__ import annotations

import pytest

from tests.faults.processes import wait_until

pytestmark = pytest.mark.fault

TURNS = 40_000  # ten batches of 4,000: long enough to be killed between two of them

SEED = [
    """INSERT INTO traces_turn (project_id, id, session_id, end_user_id, input, output, history, prompt_version, model,
           retrieved, tool_calls, metadata, variant, source, created_at, received_at, review_state)
       SELECT %(p)s::uuid, md5(%(p)s::text || g::text)::uuid, 's', 'u', 'question', 'answer', '[]', '', '', '[]', '[]',
           '{}', '', 'sdk', now() - interval '60 days', now(), 'unreviewed' FROM generate_series(1, %(n)s) AS g""",
    """INSERT INTO traces_step (project_id, turn_id, span_id, parent_span_id, kind, name, error, attributes, received_at, waiting)
       SELECT %(p)s::uuid, md5(%(p)s::text || g::text)::uuid, 'span-' || s, '', 'llm', '', '', '{}', now(), false
       FROM generate_series(1, %(n)s) AS g, generate_series(1, 3) AS s""",
]
HOLD = (
    "from apps.projects.models import Project; from apps.review.models import ReviewItem, ReviewQueue; import hashlib, uuid; "
    "project = Project.all_tenants.get(pk='{p}'); queue = ReviewQueue.all_tenants.create(project=project, name='Hold'); "
    "ids = [uuid.UUID(hashlib.md5(('{p}' + str(g)).encode()).hexdigest()) for g in range(1, {n} + 1, 1000)]; "
    "ReviewItem.all_tenants.bulk_create([ReviewItem(project=project, queue=queue, turn_id=i) for i in ids]); print(len(ids))"
)
COUNTS = """
SELECT (SELECT count(*) FROM traces_turn WHERE project_id = %(p)s),
       (SELECT count(*) FROM traces_turntombstone WHERE project_id = %(p)s),
       (SELECT count(*) FROM traces_turntombstone t WHERE t.project_id = %(p)s
           AND EXISTS (SELECT 1 FROM traces_turn u WHERE u.project_id = t.project_id AND u.id = t.id)),
       (SELECT count(*) FROM traces_step s WHERE s.project_id = %(p)s
           AND NOT EXISTS (SELECT 1 FROM traces_turn u WHERE u.project_id = s.project_id AND u.id = s.turn_id)),
       (SELECT count(*) FROM traces_turn u WHERE u.project_id = %(p)s
           AND (SELECT count(*) FROM traces_step s WHERE s.project_id = u.project_id AND s.turn_id = u.id) <> 3),
       (SELECT count(*) FROM review_reviewitem i WHERE i.project_id = %(p)s
           AND NOT EXISTS (SELECT 1 FROM traces_turn u WHERE u.project_id = i.project_id AND u.id = i.turn_id))
"""


def _counts(stack, project_id):
    with stack.postgres.connect() as connection:
        return connection.execute(COUNTS, {"p": project_id}).fetchone()


def test_a_killed_expire_run_leaves_whole_batches_and_the_next_run_finishes(stack, tenant, worker):
    # Given 40,000 turns past the retention with 3 steps each, 40 of them held by a pending item
    project_id, _ = tenant
    with stack.postgres.connect() as connection:
        for statement in SEED:
            connection.execute(statement, {"p": project_id, "n": TURNS})
    held = stack.python(HOLD.format(p=project_id, n=TURNS))

    # When the job runs on a real worker and is killed (SIGKILL) once some batches committed
    stack.python("from apps.governance.tasks import expire; expire.delay(); print(1)")
    wait_until("a first batch", lambda: _counts(stack, project_id)[1] > 0, timeout=120)
    worker.kill()

    # Then nothing is half-deleted: tombstones only for gone turns, no orphan steps, the stored
    # turns keep their 3 steps, no held turn was deleted; and some work is left
    stored, tombstones, alive_with_tombstone, orphan_steps, incomplete, held_gone = _counts(stack, project_id)
    assert (alive_with_tombstone, orphan_steps, incomplete, held_gone) == (0, 0, 0, 0)
    assert stored + tombstones == TURNS and stored > held, (stored, tombstones)

    # When the job runs again (by hand, as the next beat would)
    stack.manage("expire", "--project", project_id)

    # Then only the held turns are left, each with its steps, and every other turn has its tombstone
    assert _counts(stack, project_id) == (held, TURNS - held, 0, 0, 0, 0)
    print(f"\nexpiry killed after {tombstones} of {TURNS - held} turns; the next run finished, {held} held kept")
