"""Every existing project gets its catch-all queue, as a new project does
(apps.review.services.queues.review_default_queue_ensure)."""

from django.db import migrations

NAME = "Catch-all"


def create_default_queues(apps, schema_editor):
    Project = apps.get_model("projects", "Project")
    ReviewQueue = apps.get_model("review", "ReviewQueue")
    having = set(ReviewQueue.objects.filter(is_default=True).values_list("project_id", flat=True))
    for project in Project.objects.exclude(pk__in=having).iterator():
        taken = set(ReviewQueue.objects.filter(project=project, name__startswith=NAME).values_list("name", flat=True))
        name = NAME if NAME not in taken else next(f"{NAME} {n}" for n in range(2, 10_000) if f"{NAME} {n}" not in taken)
        ReviewQueue.objects.create(
            project=project, name=name, is_default=True, lease_seconds=600, reviewers_per_item=1,
            description="Turns logged with no signal at all (e.g. by log_turn_if).",
            routing={"signal_kinds": [], "any_turn": False, "priority": 0, "sample_percent": 100},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("review", "0007_default_catch_all_queue"),
        ("projects", "0002_seal_signing_keys"),
    ]

    operations = [migrations.RunPython(create_default_queues, migrations.RunPython.noop)]
