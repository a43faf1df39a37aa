"""The detection sweep's index: turns in received order across projects (see
apps.detection.services.sweep.SWEEP_MISSED_SQL). Built concurrently: traces_turn is the ingestion
table and must keep taking writes while the index builds."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('projects', '0001_initial'),
        ('traces', '0001_initial'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='turn',
            index=models.Index(fields=['received_at'], include=('project', 'id'), name='traces_turn_received_idx'),
        ),
    ]
