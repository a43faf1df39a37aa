"""Reads of datasets, versions and cases (a version is a range filter over case revisions)."""

from __future__ import annotations

import uuid

from django.db.models import Q

from apps.core.errors import NotFound, ValidationFailed
from apps.datasets.models import AutoAddRule, CaseRevision, Dataset, DatasetVersion
from apps.traces.models import Turn

PAGE_MAX = 500


def dataset_list(*, project, include_archived: bool = True):
    datasets = Dataset.objects.for_project(project).order_by("archived", "name", "id")
    return datasets if include_archived else datasets.filter(archived=False)


def dataset_get(*, project, dataset_id) -> Dataset:
    dataset = Dataset.objects.for_project(project).select_related("project__organization").filter(pk=dataset_id).first()
    if dataset is None:
        raise NotFound("No such dataset in this project.")
    return dataset


def dataset_get_by_name(*, project, name: str) -> Dataset:
    dataset = Dataset.objects.for_project(project).select_related("project__organization").filter(name=name).first()
    if dataset is None:
        raise NotFound("No dataset of that name in this project.")
    return dataset


def version_list(*, dataset: Dataset):
    return DatasetVersion.objects.for_project(dataset.project_id).filter(dataset=dataset).order_by("-number")


def version_get(*, dataset: Dataset, number) -> DatasetVersion:
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise NotFound("No such version.") from None
    version = version_list(dataset=dataset).filter(number=number).first()
    if version is None:
        raise NotFound(f"Dataset “{dataset.name}” has no version {number} (latest: {dataset.latest_version}).")
    return version


def version_number_resolve(*, dataset: Dataset, raw) -> int:
    """``raw`` (a URL or query value: a number or "latest") as an existing version number."""
    if raw in (None, "", "latest"):
        if dataset.latest_version == 0:
            raise NotFound(f"Dataset “{dataset.name}” has no version yet.")
        return dataset.latest_version
    return version_get(dataset=dataset, number=raw).number


def revisions_at(*, dataset: Dataset, number: int):
    """The case revisions of version ``number``: live in ``[added_in, removed_in)``."""
    return CaseRevision.objects.for_project(dataset.project_id).filter(
        Q(removed_in__isnull=True) | Q(removed_in__gt=number), dataset=dataset, added_in__lte=number,
    )


def case_filter(queryset, *, split: str | None = None, tag: str | None = None, category: str | None = None,
                text: str | None = None):
    if split is not None:
        queryset = queryset.filter(split=split)
    if tag:
        queryset = queryset.filter(tags__contains=[tag])
    if category is not None:
        queryset = queryset.filter(failure_category=category)
    if text:
        words = text.strip()
        queryset = queryset.filter(Q(input__icontains=words) | Q(expected_output__icontains=words))
    return queryset


def case_page(*, dataset: Dataset, number: int, after: int = 0, limit: int = 50, **filters) -> tuple[list, int | None]:
    """One keyset page of a version's cases in dataset order; the position to continue after, or None."""
    rows = list(
        case_filter(revisions_at(dataset=dataset, number=number), **filters)
        .filter(position__gt=after).order_by("position")[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].position if more and rows else None)


def case_get(*, dataset: Dataset, number: int, case_id) -> CaseRevision:
    try:
        case_id = uuid.UUID(str(case_id))
    except ValueError:
        raise NotFound("No such case.") from None
    revision = revisions_at(dataset=dataset, number=number).filter(case_id=case_id).first()
    if revision is None:
        raise NotFound(f"No such case in version {number}.")
    return revision


def case_revisions(*, dataset: Dataset, case_id) -> list[CaseRevision]:
    return list(
        CaseRevision.objects.for_project(dataset.project_id).filter(dataset=dataset, case_id=case_id).order_by("added_in")
    )


def case_facets(*, dataset: Dataset, number: int) -> dict:
    """The splits, tags and categories of a version (filter choices)."""
    rows = revisions_at(dataset=dataset, number=number)
    splits = sorted(set(rows.values_list("split", flat=True).distinct()))
    categories = sorted(set(rows.values_list("failure_category", flat=True).distinct()) - {""})
    tags = sorted({tag for tags in rows.exclude(tags=[]).values_list("tags", flat=True)[:20000] for tag in tags})
    return {"splits": splits, "categories": categories, "tags": tags[:200]}


def turns_present(*, project, turn_ids) -> set:
    """Which of ``turn_ids`` still exist (the others are tombstones in the lineage)."""
    turn_ids = [turn_id for turn_id in set(turn_ids) if turn_id]
    if not turn_ids:
        return set()
    return set(Turn.objects.for_project(project).filter(id__in=turn_ids).values_list("id", flat=True))


def datasets_with_turn(*, project, turn_id) -> list[tuple[Dataset, uuid.UUID]]:
    """The datasets whose latest version holds a case from this turn (the replay page shows them)."""
    rows = CaseRevision.objects.for_project(project).filter(turn_id=turn_id, removed_in__isnull=True).values_list(
        "dataset_id", "case_id"
    )
    case_by_dataset = dict(rows)
    datasets = Dataset.objects.for_project(project).filter(pk__in=case_by_dataset).order_by("name")
    return [(dataset, case_by_dataset[dataset.pk]) for dataset in datasets]


def auto_add_rules(*, dataset: Dataset):
    return AutoAddRule.objects.for_project(dataset.project_id).filter(dataset=dataset).select_related("queue").order_by("queue__name")


def auto_add_rule_for_queue(*, project, queue_id) -> AutoAddRule | None:
    return AutoAddRule.objects.for_project(project).filter(queue_id=queue_id).select_related("dataset").first()


def limit_clean(raw, *, default: int = 50) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValidationFailed(f"'limit' must be an integer from 1 to {PAGE_MAX}.", field="limit") from None
    if not 1 <= value <= PAGE_MAX:
        raise ValidationFailed(f"'limit' must be an integer from 1 to {PAGE_MAX}.", field="limit")
    return value
