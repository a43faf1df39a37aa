"""Re-seal every sealed value under the current ``DJANGO_SECRET_KEY``.

Rotation: set the new key as ``DJANGO_SECRET_KEY`` and the old one in
``DJANGO_SECRET_KEY_FALLBACKS`` (values sealed under it still open meanwhile), run this, then drop
the fallback. It walks ``apps.core.sealing.REGISTRY`` (every sealed field registers itself), in
primary-key batches, one short transaction a batch with the rows locked; a value already under
the current key is left alone, so a second run reports nothing re-sealed. A value that opens
under no known key is counted and left as it is (the command exits non-zero): it cannot be
recovered by this command and needs the key it was sealed under.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.core.sealing import REGISTRY, Unsealable

BATCH = 500


def reseal_all(*, batch: int = BATCH) -> dict[str, dict[str, int]]:
    counts = {}
    for kind, entry in sorted(REGISTRY.items()):
        model = entry.model
        manager = getattr(model, "all_tenants", model._default_manager)  # unscoped: rotation re-seals every tenant's rows
        tally = {"resealed": 0, "current": 0, "unopenable": 0}
        after = None
        while True:
            with transaction.atomic():
                rows = manager.exclude(**{f"{entry.field}__isnull": True}).order_by("pk")
                if after is not None:
                    rows = rows.filter(pk__gt=after)
                rows = list(rows.select_for_update()[:batch])
                for row in rows:
                    try:
                        value = entry.reseal(row)
                    except Unsealable:
                        tally["unopenable"] += 1
                        continue
                    if value is None:
                        tally["current"] += 1
                        continue
                    manager.filter(pk=row.pk).update(**{entry.field: value})
                    tally["resealed"] += 1
            if len(rows) < batch:
                break
            after = rows[-1].pk
        counts[kind] = tally
    return counts


class Command(BaseCommand):
    help = "Re-seal every sealed secret under the current DJANGO_SECRET_KEY (old one in DJANGO_SECRET_KEY_FALLBACKS)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the counts as JSON.")

    def handle(self, *args, **options):
        counts = reseal_all()
        if options["json"]:
            self.stdout.write(json.dumps(counts, sort_keys=True))
        else:
            for kind, tally in counts.items():
                self.stdout.write(
                    f"{kind}: {tally['resealed']} re-sealed, {tally['current']} already current, "
                    f"{tally['unopenable']} unopenable"
                )
        if any(tally["unopenable"] for tally in counts.values()):
            raise CommandError("Some values open under no known key (keep their key in DJANGO_SECRET_KEY_FALLBACKS).")
