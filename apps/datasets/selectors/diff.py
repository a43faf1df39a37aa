"""The difference between any two versions of a dataset: cases added, removed and changed
(field by field). Two narrow reads of ``(case_id, revision id)`` decide the sets; only the rows
to show are then loaded, so diffing two 100,000-case versions reads ids, not documents."""

from __future__ import annotations

from dataclasses import dataclass, field

from apps.datasets.cases import case_as_dict
from apps.datasets.models import CASE_FIELDS, CaseRevision
from apps.datasets.selectors.datasets import revisions_at


@dataclass
class Diff:
    from_version: int
    to_version: int
    added_count: int = 0
    removed_count: int = 0
    changed_count: int = 0
    added: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    truncated: bool = False

    def as_dict(self) -> dict:
        return {
            "from": self.from_version, "to": self.to_version,
            "counts": {"added": self.added_count, "removed": self.removed_count, "changed": self.changed_count},
            "added": self.added, "removed": self.removed, "changed": self.changed, "truncated": self.truncated,
        }


def _members(dataset, number: int) -> dict:
    return dict(revisions_at(dataset=dataset, number=number).values_list("case_id", "id"))


def _fields(before: CaseRevision, after: CaseRevision) -> dict:
    return {
        name: {"from": _plain(getattr(before, name)), "to": _plain(getattr(after, name))}
        for name in CASE_FIELDS
        if getattr(before, name) != getattr(after, name)
    }


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def version_diff(*, dataset, from_version: int, to_version: int, limit: int = 500) -> Diff:
    """Cases in ``to_version`` and not ``from_version`` (added), the reverse (removed), and those in
    both with another revision (changed, with each differing field's before and after). At most
    ``limit`` cases of each kind are listed (``truncated``); the counts are always whole."""
    before, after = _members(dataset, from_version), _members(dataset, to_version)
    added_ids = [case_id for case_id in after if case_id not in before]
    removed_ids = [case_id for case_id in before if case_id not in after]
    changed_ids = [case_id for case_id, rev in after.items() if case_id in before and before[case_id] != rev]
    diff = Diff(
        from_version=from_version, to_version=to_version,
        added_count=len(added_ids), removed_count=len(removed_ids), changed_count=len(changed_ids),
        truncated=max(len(added_ids), len(removed_ids), len(changed_ids)) > limit,
    )
    revision_ids = (
        [after[c] for c in added_ids[:limit]] + [before[c] for c in removed_ids[:limit]]
        + [before[c] for c in changed_ids[:limit]] + [after[c] for c in changed_ids[:limit]]
    )
    rows = {
        revision.pk: revision
        for revision in CaseRevision.objects.for_project(dataset.project_id).filter(dataset=dataset, pk__in_array=revision_ids)
    }
    by_position = lambda revision: revision.position  # noqa: E731 - the dataset's order
    diff.added = [case_as_dict(r) for r in sorted((rows[after[c]] for c in added_ids[:limit]), key=by_position)]
    diff.removed = [case_as_dict(r) for r in sorted((rows[before[c]] for c in removed_ids[:limit]), key=by_position)]
    pairs = sorted(((rows[before[c]], rows[after[c]]) for c in changed_ids[:limit]), key=lambda pair: pair[1].position)
    diff.changed = [
        {"id": str(new.case_id), "input": new.input[:200], "fields": _fields(old, new)} for old, new in pairs
    ]
    return diff
