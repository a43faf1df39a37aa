"""Feedback rows belong to capture (apps.traces): the model moved from apps.feedback without
copying its table, and a database migrated from before the move ends with the same schema."""

import uuid

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.traces.models import Feedback

BEFORE_MOVE = [("traces", "0004_turn_key_per_project"), ("feedback", "0003_feedback_key_per_project")]
AFTER_MOVE = [("traces", "0005_feedback_from_feedback_app"), ("feedback", "0004_feedback_moved_to_traces")]


def _migrate(targets=None):
    """Migrate to ``targets`` (default: every app's latest) and return that state's models."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _schema(table: str) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns "
            "WHERE table_name = %s ORDER BY column_name",
            [table],
        )
        columns = cursor.fetchall()
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname", [table])
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass ORDER BY conname",
            [table],
        )
        constraints = cursor.fetchall()
    return {"columns": columns, "indexes": indexes, "constraints": constraints}


@pytest.mark.django_db(transaction=True)
def test_the_move_keeps_the_table_its_rows_its_schema_and_its_permissions(project):
    content_type = ContentType.objects.get_for_model(Feedback)
    old = _migrate(BEFORE_MOVE)
    try:
        feedback_id, turn_id = uuid.uuid4(), uuid.uuid4()
        old.get_model("feedback", "Feedback").objects.create(
            id=feedback_id, project_id=project.pk, turn_id=turn_id, rating="down", comment="kept", waiting=True
        )
        schema_before = _schema("feedback_feedback")
        label_before = ContentType.objects.values_list("app_label", flat=True).get(pk=content_type.pk)
    finally:
        new = _migrate(AFTER_MOVE)
        schema_after = _schema("feedback_feedback")
        _migrate()  # later migrations (new indexes) are not the move's

    assert label_before == "feedback"
    assert new.get_model("traces", "Feedback")._meta.db_table == "feedback_feedback"
    with pytest.raises(LookupError):
        new.get_model("feedback", "Feedback")
    assert schema_after == schema_before
    assert [name for name, _ in schema_before["indexes"]] == [
        "feedback_feedback_created_idx", "feedback_feedback_expires_idx", "feedback_feedback_pkey",
        "feedback_feedback_turn_idx", "feedback_feedback_waiting_idx",
    ]
    assert list(Feedback.objects.for_project(project).values_list("id", "turn_id", "rating", "comment", "waiting")) == [
        (feedback_id, turn_id, "down", "kept", True)
    ]
    assert ContentType.objects.values_list("app_label", "model").get(pk=content_type.pk) == ("traces", "feedback")


@pytest.mark.django_db
def test_the_models_match_the_migrations():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
