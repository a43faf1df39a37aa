"""Every change of a dataset's cases is one new version (models.py: the ranges and the triggers).

``_commit`` is the one writer: under the dataset's row lock it ends the replaced revisions
(``removed_in = N``), inserts the new ones (``added_in = N``) and appends version N with its
message, author and counts. Callers build the revisions; a change that changes nothing makes no
version (the result says so).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.core.errors import Conflict, NotFound, ValidationFailed
from apps.datasets.cases import CASE_FIELDS_EDITABLE, CaseInvalid, case_clean, split_clean
from apps.datasets.models import CASE_FIELDS, CaseRevision, Dataset, DatasetVersion
from apps.datasets.services.storage import revisions_insert

MAX_MESSAGE = 500


@dataclass(frozen=True)
class Author:
    """Who made a version: a person (``user``) or an API key (``label`` only)."""

    user: object | None
    label: str

    @classmethod
    def of_user(cls, user) -> Author:
        return cls(user=user, label=getattr(user, "email", "") or "")


@dataclass
class ChangeResult:
    version: DatasetVersion | None
    added: int = 0
    removed: int = 0
    changed: int = 0
    case_ids: list = field(default_factory=list)

    @property
    def number(self) -> int | None:
        return self.version.number if self.version else None


def dataset_lock(dataset: Dataset) -> Dataset:
    return Dataset.objects.for_project(dataset.project_id).select_for_update().get(pk=dataset.pk)


def _check_writable(dataset: Dataset) -> None:
    if dataset.archived:
        raise Conflict("This dataset is archived; unarchive it to change its cases.", code="dataset_archived")


def _message(message: str) -> str:
    message = (message or "").strip()
    if len(message) > MAX_MESSAGE:
        raise ValidationFailed(f"A version message is at most {MAX_MESSAGE} characters.", field="message")
    return message


def live_revisions(dataset: Dataset):
    return CaseRevision.objects.for_project(dataset.project_id).filter(dataset=dataset, removed_in__isnull=True)


def _commit(*, dataset: Dataset, author: Author, message: str, new: list[CaseRevision], ended: list[CaseRevision],
            default_message: str) -> ChangeResult:
    """Write one version of the locked ``dataset``: end ``ended``, insert ``new``. No-op if both are empty."""
    if not new and not ended:
        return ChangeResult(version=None)
    number = dataset.latest_version + 1
    now = timezone.now()
    ended_ids = [revision.pk for revision in ended]
    if ended_ids:
        done = live_revisions(dataset).filter(pk__in_array=ended_ids).update(removed_in=number)
        if done != len(ended_ids):
            raise Conflict("The case changed meanwhile; reload and try again.", code="conflict")
    next_position = None
    for revision in new:
        if revision.position is None:
            if next_position is None:
                top = CaseRevision.objects.for_project(dataset.project_id).filter(dataset=dataset).aggregate(top=Max("position"))
                next_position = (top["top"] or 0) + 1
            revision.position = next_position
            next_position += 1
        revision.project_id, revision.dataset = dataset.project_id, dataset
        revision.added_in, revision.created_at = number, now
    revisions_insert(dataset=dataset, revisions=new, added_in=number, created_at=now)
    ended_cases = {revision.case_id for revision in ended}
    new_cases = {revision.case_id for revision in new}
    added, removed = len(new_cases - ended_cases), len(ended_cases - new_cases)
    changed = len(new_cases & ended_cases)
    parts = [f"{count} {label}" for count, label in ((added, "added"), (changed, "changed"), (removed, "removed")) if count]
    version = DatasetVersion.objects.create(
        project_id=dataset.project_id, dataset=dataset, number=number,
        message=_message(message) or f"{default_message} ({', '.join(parts)})",
        author=author.user if getattr(author.user, "pk", None) else None, author_label=author.label[:254],
        created_at=now, cases_count=dataset.cases_count + added - removed,
        added_count=added, removed_count=removed, changed_count=changed,
    )
    dataset.latest_version, dataset.cases_count, dataset.updated_at = number, version.cases_count, now
    dataset.save(update_fields=["latest_version", "cases_count", "updated_at"])
    return ChangeResult(version=version, added=added, removed=removed, changed=changed, case_ids=[r.case_id for r in new])


def revision_new(content: dict, *, source: str, now=None) -> CaseRevision:
    """An unsaved revision of a new case from cleaned content and lineage (``apps.datasets.cases``)."""
    values = dict(content)
    values.setdefault("case_id", uuid.uuid4())
    values.setdefault("source", source)
    values.setdefault("added_at", now or timezone.now())
    return CaseRevision(position=None, **values)


@transaction.atomic
def cases_add(*, dataset: Dataset, author: Author, revisions: list[CaseRevision], message: str = "",
              default_message: str = "Cases added") -> tuple[ChangeResult, dict]:
    """Add new cases in one version. A turn already live in the dataset is not added again: the
    second dict maps such a revision's index to the existing case id (the "turn added twice is
    one case" rule, which the partial unique index also enforces)."""
    dataset = dataset_lock(dataset)
    _check_writable(dataset)
    turn_ids = {revision.turn_id for revision in revisions if revision.turn_id}
    existing = dict(
        live_revisions(dataset).filter(turn_id__in_array=list(turn_ids)).values_list("turn_id", "case_id")
    ) if turn_ids else {}
    live_case_ids = set()
    wanted_case_ids = {revision.case_id for revision in revisions}
    if wanted_case_ids:
        live_case_ids = set(live_revisions(dataset).filter(case_id__in_array=list(wanted_case_ids)).values_list("case_id", flat=True))
    duplicates, fresh = {}, []
    for index, revision in enumerate(revisions):
        if revision.turn_id and revision.turn_id in existing:
            duplicates[index] = existing[revision.turn_id]
            continue
        if revision.case_id in live_case_ids:
            revision.case_id = uuid.uuid4()  # an imported id already used here: a new case
        if revision.turn_id:
            existing[revision.turn_id] = revision.case_id
        live_case_ids.add(revision.case_id)
        fresh.append(revision)
    result = _commit(dataset=dataset, author=author, message=message, new=fresh, ended=[], default_message=default_message)
    return result, duplicates


def _live_cases(dataset: Dataset, case_ids) -> list[CaseRevision]:
    ids = []
    for case_id in case_ids:
        try:
            ids.append(uuid.UUID(str(case_id)))
        except ValueError:
            raise NotFound("No such case in this dataset.", field="case_ids") from None
    revisions = list(live_revisions(dataset).filter(case_id__in_array=ids).order_by("position"))
    if len(revisions) != len(set(ids)):
        raise NotFound("No such case in the latest version of this dataset.", field="case_ids")
    return revisions


def check_latest(dataset: Dataset, version: int | None) -> None:
    """Edits apply to the latest version only: naming an older one is ``version_immutable``."""
    if version is not None and version != dataset.latest_version:
        raise Conflict(
            f"Version {version} is immutable; changes make a new version after the latest ({dataset.latest_version}).",
            code="version_immutable", field="version",
        )


def _successor(revision: CaseRevision, **changes) -> CaseRevision:
    values = {name: getattr(revision, name) for name in CASE_FIELDS}
    values.update(changes)
    lineage = {name: getattr(revision, name) for name in (
        "case_id", "position", "source", "turn_id", "decision_id", "reviewer_id", "reviewer_email", "problem_id",
        "problem_title", "added_at",
    )}
    return CaseRevision(**lineage, **values)


@transaction.atomic
def case_edit(*, dataset: Dataset, case_id, changes: dict, author: Author, message: str = "",
              version: int | None = None) -> ChangeResult:
    """Edit one case's content (any of ``CASE_FIELDS_EDITABLE``): a new version with its new revision."""
    dataset = dataset_lock(dataset)
    check_latest(dataset, version)
    _check_writable(dataset)
    unknown = sorted(set(changes) - set(CASE_FIELDS_EDITABLE))
    if unknown:
        raise ValidationFailed(f"Not a case field: {unknown[0]}.", field=unknown[0])
    (revision,) = _live_cases(dataset, [case_id])
    if all(getattr(revision, name) == value for name, value in changes.items()):
        return ChangeResult(version=None)
    successor = _successor(revision, **changes)
    return _commit(dataset=dataset, author=author, message=message, new=[successor], ended=[revision],
                   default_message="Case edited")


@transaction.atomic
def cases_remove(*, dataset: Dataset, case_ids, author: Author, message: str = "", version: int | None = None) -> ChangeResult:
    dataset = dataset_lock(dataset)
    check_latest(dataset, version)
    _check_writable(dataset)
    revisions = _live_cases(dataset, case_ids)
    return _commit(dataset=dataset, author=author, message=message, new=[], ended=revisions, default_message="Cases removed")


@transaction.atomic
def cases_move(*, dataset: Dataset, case_ids, split: str, author: Author, message: str = "",
               version: int | None = None) -> ChangeResult:
    """Move cases to another split (a new revision of each case that is not there yet)."""
    errors: list = []
    split = split_clean(split, errors)
    if errors:
        raise ValidationFailed(f"The split {errors[0][1]}.", field="split")
    dataset = dataset_lock(dataset)
    check_latest(dataset, version)
    _check_writable(dataset)
    revisions = [revision for revision in _live_cases(dataset, case_ids) if revision.split != split]
    return _commit(
        dataset=dataset, author=author, message=message or f"Moved to split “{split or '(none)'}”",
        new=[_successor(revision, split=split) for revision in revisions], ended=revisions, default_message="Cases moved",
    )


def edit_changes_clean(data: dict) -> dict:
    """The editable fields of a PATCH/form body, validated like a new case's."""
    if not isinstance(data, dict) or not data:
        raise ValidationFailed("Send the fields to change.", code="required")
    unknown = sorted(set(data) - set(CASE_FIELDS_EDITABLE))
    if unknown:
        raise ValidationFailed(f"Not an editable case field: {unknown[0]}.", field=unknown[0])
    probe = {"input": "x", **data}
    try:
        cleaned = case_clean(probe, allow_lineage=False)
    except CaseInvalid as error:
        field_name, reason = error.errors[0]
        raise ValidationFailed(f"{field_name} {reason}.", field=field_name) from None
    return {name: cleaned[name] for name in data}

