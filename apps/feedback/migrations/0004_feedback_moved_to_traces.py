"""The ``Feedback`` model now lives in apps.traces (traces/migrations/0005_feedback_from_feedback_app.py).

State only: the table ``feedback_feedback`` and its rows stay where they are, owned by traces.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('feedback', '0003_feedback_key_per_project'),
        ('traces', '0005_feedback_from_feedback_app'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name='Feedback')],
        ),
    ]
