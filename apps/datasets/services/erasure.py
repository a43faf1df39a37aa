"""Erasing cases copied from an end user's turns, from every version (an end user's deletion).

Versions are immutable (migration 0002), and a deleted case would make past versions lie about
their counts and diffs, so erasure is the least change that removes the personal data:

1. A case still live is removed by a new version of its dataset ("Erased on request"), the
   normal way a case leaves; an archived dataset is no exception (a legal erasure is not a
   curation change the archive protects).
2. Every revision of the matched cases, past ones included, has its content cleared (input,
   history, context, expected output, metadata) and ``erased_at`` set: the one update the guard
   allows, and only in a transaction that says it is erasing (migration 0003). Ids, positions,
   version ranges and lineage ids stay; the lineage's turn shows its tombstone.
3. Finished export files of the datasets touched are deleted with their rows: they hold copies
   of the content and can be made again from the erased versions.

Callers pass the match (``Q`` over revisions: the user's turn ids, their end-user id in the
copied metadata) and call it once per bounded batch, inside their transaction.
"""

from __future__ import annotations

from collections import Counter

from django.db.models import Q
from django.utils import timezone

from apps.core.sql import tenant_sql
from apps.datasets.models import CaseRevision, Dataset, DatasetExport
from apps.datasets.services.changes import Author, _commit, dataset_lock, live_revisions

ERASED_CONTENT = {"input": "", "history": [], "context": {}, "expected_output": "", "metadata": {}}
ERASE_MESSAGE = "Erased on request (end-user deletion)"


def _erase_allow() -> None:
    with tenant_sql(unscoped="an end user's deletion clears copied content in every version") as cursor:
        cursor.execute("SELECT set_config('agentloop.datasets_erase', 'on', true)")


def cases_erase(*, project, match: Q, author: Author) -> Counter:
    """Erase the revisions of ``project`` matching ``match``; counts ``dataset_cases`` (revisions
    erased), ``dataset_versions`` (versions written) and ``dataset_exports`` (files deleted).
    Call inside a transaction; a second call finds nothing left to erase."""
    revisions = CaseRevision.objects.for_project(project).filter(match, erased_at__isnull=True)
    touched = sorted(set(revisions.values_list("dataset_id", flat=True)))
    counts = Counter()
    for dataset_id in touched:
        dataset = dataset_lock(Dataset.objects.for_project(project).get(pk=dataset_id))
        live = list(live_revisions(dataset).filter(match))
        if live:
            _commit(dataset=dataset, author=author, message=ERASE_MESSAGE, new=[], ended=live, default_message=ERASE_MESSAGE)
            counts["dataset_versions"] += 1
    if not touched:
        return counts
    _erase_allow()
    counts["dataset_cases"] = revisions.update(**ERASED_CONTENT, erased_at=timezone.now())
    for export in DatasetExport.objects.for_project(project).filter(dataset_id__in=touched):
        if export.file:
            export.file.delete(save=False)
        export.delete()
        counts["dataset_exports"] += 1
    return +counts
