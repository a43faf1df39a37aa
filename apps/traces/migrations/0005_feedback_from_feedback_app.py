"""Feedback rows become part of capture: the ``Feedback`` model moves from apps.feedback to here.

State only: the table keeps its name (``feedback_feedback``, see ``Meta.db_table``), its rows,
its composite key and its index names, so nothing is copied, locked or rebuilt. The old app's
half is feedback/migrations/0004_feedback_moved_to_traces.py. The model's content type is
relabelled so its permission rows follow it instead of going stale.
"""

import django.db.models.deletion
import django.db.models.manager
import django.utils.timezone
from django.db import migrations, models


def _relabel(old_label: str, new_label: str):
    def relabel(apps, schema_editor):
        content_types = apps.get_model("contenttypes", "ContentType").objects
        if not content_types.filter(app_label=new_label, model="feedback").exists():
            content_types.filter(app_label=old_label, model="feedback").update(app_label=new_label)

    return relabel


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('feedback', '0003_feedback_key_per_project'),
        ('projects', '0002_seal_signing_keys'),
        ('traces', '0004_turn_key_per_project'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Feedback',
                    fields=[
                        ('pk', models.CompositePrimaryKey('project', 'id', blank=True, editable=False, primary_key=True, serialize=False)),
                        ('id', models.UUIDField()),
                        ('turn_id', models.UUIDField()),
                        ('end_user_id', models.CharField(blank=True, default='', max_length=200)),
                        ('rating', models.CharField(blank=True, default='', max_length=4)),
                        ('comment', models.TextField(blank=True, default='')),
                        ('correction', models.TextField(blank=True, default='')),
                        ('source', models.CharField(choices=[('sdk', 'SDK / API'), ('widget', 'Feedback widget'), ('reviewer', 'Reviewer')], default='sdk', max_length=12)),
                        ('metadata', models.JSONField(blank=True, default=dict)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('expires_at', models.DateTimeField(blank=True, null=True)),
                        ('waiting', models.BooleanField(db_default=False, default=False, help_text="Stored before its turn arrived (a hint; the turn's absence is what counts).")),
                        ('project', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='projects.project')),
                    ],
                    options={
                        'db_table': 'feedback_feedback',
                        'abstract': False,
                        'base_manager_name': 'all_tenants',
                        'indexes': [
                            models.Index(fields=['project', 'turn_id'], name='feedback_feedback_turn_idx'),
                            models.Index(fields=['project', '-created_at'], name='feedback_feedback_created_idx'),
                            models.Index(fields=['expires_at'], name='feedback_feedback_expires_idx'),
                            models.Index(condition=models.Q(('waiting', True)), fields=['project', 'turn_id'], name='feedback_feedback_waiting_idx'),
                        ],
                    },
                    managers=[
                        ('objects', django.db.models.manager.Manager()),
                        ('all_tenants', django.db.models.manager.Manager()),
                    ],
                ),
            ],
        ),
        migrations.RunPython(_relabel("feedback", "traces"), _relabel("traces", "feedback")),
    ]
