"""Datasets themselves: create, rename / describe, archive (reviewers and admins; audited)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.audit import Actor, AuditAction, audit_record
from apps.core.errors import Conflict, ValidationFailed
from apps.core.text import required_name
from apps.datasets.models import Dataset

MAX_DESCRIPTION = 5000


def name_clean(name) -> str:
    name = required_name(name, "name", max_length=100)
    if "/" in name or "\\" in name:
        raise ValidationFailed("A dataset name cannot contain / or \\ (it is part of URLs).", field="name")
    return name


def _description(description) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise ValidationFailed("The description is text.", field="description")
    if len(description) > MAX_DESCRIPTION:
        raise ValidationFailed(f"A description is at most {MAX_DESCRIPTION} characters.", field="description")
    return description.replace("\x00", "").strip()


def _duplicate(name: str) -> Conflict:
    return Conflict(f"This project already has a dataset named “{name}”.", code="duplicate_name", field="name")


def _audit(dataset: Dataset, actor: Actor, action: AuditAction, before=None, after=None) -> None:
    audit_record(
        organization=dataset.project.organization, actor=actor, action=action, target_type="dataset",
        target_id=dataset.pk, target_label=dataset.name, before=before, after=after,
    )


@transaction.atomic
def dataset_create(*, project, name, description="", actor: Actor) -> Dataset:
    name, description = name_clean(name), _description(description)
    if Dataset.objects.for_project(project).filter(name=name).exists():
        raise _duplicate(name)
    try:
        with transaction.atomic():
            dataset = Dataset.objects.create(
                project=project, name=name, description=description,
                created_by=actor.user if getattr(actor.user, "pk", None) else None,
            )
    except IntegrityError:
        raise _duplicate(name) from None
    _audit(dataset, actor, AuditAction.DATASET_CREATED, after={"name": name, "description": description})
    return dataset


@transaction.atomic
def dataset_update(*, dataset: Dataset, actor: Actor, name=None, description=None, archived=None) -> Dataset:
    """Rename, describe, archive or unarchive. An archived dataset keeps its versions and exports
    but takes no new cases (``dataset_archived``)."""
    dataset = Dataset.objects.for_project(dataset.project_id).select_for_update().select_related(
        "project__organization"
    ).get(pk=dataset.pk)
    before, after = {}, {}
    if name is not None:
        name = name_clean(name)
        if name != dataset.name:
            if Dataset.objects.for_project(dataset.project_id).filter(name=name).exclude(pk=dataset.pk).exists():
                raise _duplicate(name)
            before["name"], after["name"], dataset.name = dataset.name, name, name
    if description is not None:
        description = _description(description)
        if description != dataset.description:
            before["description"], after["description"], dataset.description = dataset.description, description, description
    if archived is not None:
        if not isinstance(archived, bool):
            raise ValidationFailed("archived is true or false.", field="archived")
        if archived != dataset.archived:
            before["archived"], after["archived"], dataset.archived = dataset.archived, archived, archived
    if not after:
        return dataset
    dataset.updated_at = timezone.now()
    try:
        with transaction.atomic():
            dataset.save(update_fields=["name", "description", "archived", "updated_at"])
    except IntegrityError:
        raise _duplicate(dataset.name) from None
    _audit(dataset, actor, AuditAction.DATASET_UPDATED, before=before, after=after)
    return dataset


def dataset_purge_allow() -> None:
    """Let this transaction delete case revisions and versions (a project or dataset is being
    deleted): the database refuses it otherwise (migration 0002)."""
    from apps.core.sql import tenant_sql

    with tenant_sql(unscoped="a project or dataset deletion purges its dataset history") as cursor:
        cursor.execute("SELECT set_config('agentloop.datasets_purge', 'on', true)")
