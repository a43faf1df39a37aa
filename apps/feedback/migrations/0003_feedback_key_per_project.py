"""Feedback is keyed by ``(project_id, id)`` instead of ``id`` alone (see apps.feedback.models.Feedback).

In place: the table is not copied and every row keeps its id. The new key's index is built
concurrently (ingestion keeps writing meanwhile), then swapped in as the primary key in one
short ``ALTER TABLE``. The separate index on ``project_id`` goes: the key now starts with it.
"""

import django.db.models.deletion
from django.db import migrations, models

SWAP_KEY = """
ALTER TABLE feedback_feedback DROP CONSTRAINT feedback_feedback_pkey,
    ADD CONSTRAINT feedback_feedback_pkey PRIMARY KEY USING INDEX feedback_feedback_project_key
"""
# Going back works only while no id is used by two projects (the old key cannot hold them).
RESTORE_KEY = """
ALTER TABLE feedback_feedback DROP CONSTRAINT feedback_feedback_pkey, ADD CONSTRAINT feedback_feedback_pkey PRIMARY KEY (id)
"""


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ('projects', '0002_seal_signing_keys'),
        ('feedback', '0002_waiting_flag'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS feedback_feedback_project_key ON feedback_feedback (project_id, id)",
                    "DROP INDEX CONCURRENTLY IF EXISTS feedback_feedback_project_key",
                ),
                migrations.RunSQL(SWAP_KEY, RESTORE_KEY),
            ],
            state_operations=[
                migrations.AddField(
                    model_name='feedback',
                    name='pk',
                    field=models.CompositePrimaryKey('project', 'id', blank=True, editable=False, primary_key=True, serialize=False),
                ),
                migrations.AlterField(
                    model_name='feedback',
                    name='id',
                    field=models.UUIDField(),
                ),
            ],
        ),
        migrations.AlterField(
            model_name='feedback',
            name='project',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='projects.project'),
        ),
    ]
