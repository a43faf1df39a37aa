"""Per-queue categories become the project's failure taxonomy.

A project whose queues all used the defaults (empty ``categories``) gets no row: it keeps the
defaults. Otherwise the taxonomy is the union, in queue order, of every queue's categories (the
defaults standing in for a queue that had none), so every category a queue accepted stays valid.
Decisions keep their category text either way.
"""

from django.db import migrations

# Frozen copy: a migration must not import app code that may change later.
DEFAULT_TAXONOMY = [
    {"name": "hallucination", "description": "States facts or policies that are not true or not in its sources."},
    {"name": "retrieval miss", "description": "The right document existed but was not retrieved or not used."},
    {"name": "tool misuse", "description": "Called the wrong tool, with wrong arguments, or ignored its result."},
    {"name": "policy", "description": "Broke a business, safety or compliance rule."},
    {"name": "tone", "description": "Right content, wrong manner: curt, rude, verbose or off-brand."},
    {"name": "other", "description": "Anything else; say what in the notes."},
]


def merged_taxonomy(queue_categories: list[list[str]]) -> list[dict] | None:
    """The project taxonomy for its queues' category lists (None: keep the defaults)."""
    if not any(queue_categories):
        return None
    descriptions = {c["name"]: c["description"] for c in DEFAULT_TAXONOMY}
    names: list[str] = []
    seen: set[str] = set()
    for categories in queue_categories:
        for name in categories or [c["name"] for c in DEFAULT_TAXONOMY]:
            name = str(name).strip()[:64]
            if name and name.casefold() not in seen:
                seen.add(name.casefold())
                names.append(name)
    return [{"name": name, "description": descriptions.get(name, "")} for name in names]


def forwards(apps, schema_editor):
    ReviewQueue = apps.get_model("review", "ReviewQueue")
    FailureTaxonomy = apps.get_model("review", "FailureTaxonomy")
    per_project: dict = {}
    for project_id, categories in ReviewQueue.all_tenants.order_by("project_id", "id").values_list("project_id", "categories"):
        per_project.setdefault(project_id, []).append(list(categories or []))
    for project_id, queue_categories in per_project.items():
        taxonomy = merged_taxonomy(queue_categories)
        if taxonomy is not None:
            FailureTaxonomy.all_tenants.update_or_create(project_id=project_id, defaults={"categories": taxonomy})


def backwards(apps, schema_editor):
    ReviewQueue = apps.get_model("review", "ReviewQueue")
    FailureTaxonomy = apps.get_model("review", "FailureTaxonomy")
    for taxonomy in FailureTaxonomy.all_tenants.all():
        names = [c["name"] for c in taxonomy.categories]
        ReviewQueue.all_tenants.filter(project_id=taxonomy.project_id).update(categories=names)


class Migration(migrations.Migration):

    dependencies = [
        ("review", "0003_queue_reviewers_taxonomy"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
