"""The one door for deleting turns: children go with their turn, a tombstone stays, the other
project and the turns not chosen are untouched, and a second call finds nothing to do."""

import pytest
from django.db import connection, transaction

from apps.detection.models import DetectionPass
from apps.governance.purge import purge_turns
from apps.traces.models import Feedback, Signal, Step, Turn, TurnTombstone
from apps.traces.selectors import tombstones_for
from tests.factories.traces import FeedbackFactory, SignalFactory, StepFactory, TurnFactory

pytestmark = pytest.mark.django_db


def _turn_with_children(project):
    turn = TurnFactory(project=project)
    StepFactory(turn=turn)
    StepFactory(turn=turn)
    SignalFactory(turn=turn)
    FeedbackFactory(turn=turn)
    DetectionPass.objects.create(project=project, turn_id=turn.id)
    return turn


def _count(model, project, turn):
    field = "id" if model is Turn else "turn_id"
    return model.objects.for_project(project).filter(**{field: turn.id}).count()


def test_purge_deletes_turns_with_children_and_leaves_tombstones(project, other_project):
    gone, kept = _turn_with_children(project), _turn_with_children(project)
    # The same UUID in another project is another turn: it must survive.
    twin = TurnFactory(project=other_project, id=gone.id)
    SignalFactory(turn=twin)

    counts = purge_turns(project=project, turns=Turn.objects.for_project(project).filter(id=gone.id), reason="retention")

    assert counts == {"turns": 1, "steps": 2, "signals": 1, "feedback": 1, "detection_passes": 1}
    for model in (Turn, Step, Signal, Feedback, DetectionPass):
        assert _count(model, project, gone) == 0
        assert _count(model, project, kept) == (2 if model is Step else 1)
    assert _count(Turn, other_project, twin) == 1 and _count(Signal, other_project, twin) == 1
    tombstone = tombstones_for(project=project, turn_ids=[gone.id, kept.id])
    assert list(tombstone) == [gone.id]
    assert tombstone[gone.id].reason == "retention" and tombstone[gone.id].turn_created_at == gone.created_at
    assert tombstones_for(project=other_project, turn_ids=[gone.id]) == {}


def test_purge_twice_is_a_no_op(project):
    turn = _turn_with_children(project)
    chosen = Turn.objects.for_project(project).filter(id=turn.id)

    assert purge_turns(project=project, turns=chosen, reason="end_user")["turns"] == 1
    assert purge_turns(project=project, turns=chosen, reason="end_user") == {}
    assert TurnTombstone.objects.for_project(project).count() == 1



def _wal_compression():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('wal_compression')")
        return cursor.fetchone()[0]


@pytest.fixture
def uncompressed_wal():
    """A server that leaves page images uncompressed (the embedded one compresses them server-wide)."""
    with connection.cursor() as cursor:
        cursor.execute("SET wal_compression = off")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET wal_compression")


@pytest.mark.django_db(transaction=True)
def test_a_batch_compresses_its_page_images_for_its_own_transaction_only(project, uncompressed_wal):
    """The batch's WAL is mostly full-page images: compressed inside the batch's transaction
    (the test server's role is a superuser, as on the embedded server), as before after it."""
    turn = _turn_with_children(project)
    with transaction.atomic():
        purge_turns(project=project, turns=Turn.objects.for_project(project).filter(id=turn.id), reason="retention")
        assert _wal_compression() != "off"  # "on" reads back as its method, pglz
    assert _wal_compression() == "off"


@pytest.mark.django_db(transaction=True)
def test_a_role_that_may_not_set_wal_compression_purges_without_it(project, uncompressed_wal):
    turn = _turn_with_children(project)
    with connection.cursor() as cursor:
        cursor.execute("DO $$ BEGIN CREATE ROLE agentloop_plain NOSUPERUSER; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        cursor.execute("GRANT USAGE ON SCHEMA public TO agentloop_plain")
        cursor.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO agentloop_plain")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL ROLE agentloop_plain")
        counts = purge_turns(project=project, turns=Turn.objects.for_project(project).filter(id=turn.id), reason="retention")
        assert _wal_compression() == "off"
    assert counts["turns"] == 1 and _count(Turn, project, turn) == 0



def test_the_embedded_server_compresses_page_images_server_wide(tmp_path):
    """``config.embedded`` writes its server settings into the data folder's postgresql.auto.conf
    (kept across restarts) once: a real pgserver in a folder of its own."""
    import pgserver

    from config import embedded

    pgdata = tmp_path / "postgres"
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    try:
        assert "off" in server.psql("SHOW wal_compression;")
        embedded._configure_postgres(server, pgdata)
        assert "pglz" in server.psql("SHOW wal_compression;")
        written = (pgdata / "postgresql.auto.conf").read_text()
        embedded._configure_postgres(server, pgdata)
        assert (pgdata / "postgresql.auto.conf").read_text() == written and written.count("wal_compression") == 1
    finally:
        server.cleanup()
