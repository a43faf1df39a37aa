"""Moving labels (a deploy; moving back is a rollback) and protecting them. Every change is audited
with before/after and kept in the label's history (``PromptLabelMove``)."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.audit import AuditAction, audit_record
from apps.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from apps.core.roles import Role, role_at_least
from apps.experiments import cache, validation
from apps.experiments.models import MoveKind, Prompt, PromptLabel, PromptLabelMove, PromptVersion
from apps.experiments.selectors.prompts import prompt_label_previous_version
from apps.experiments.services.prompts import Author


def may_move(*, label: PromptLabel | None, role: str | None) -> bool:
    """A protected label moves only for admins (and owners); an API key (no role) never moves one."""
    if label is None or not label.protected:
        return True
    return role is not None and role_at_least(role, Role.ADMIN)


def _refuse_protected(label: PromptLabel) -> Forbidden:
    return Forbidden(f"The label {label.name!r} is protected: only admins may move it.", code="label_protected", field="label")


def _version_in(prompt: Prompt, number) -> PromptVersion:
    """The prompt's own version ``number``: another prompt's or project's version is a 404."""
    number = validation.version_number(number)
    version = PromptVersion.objects.for_project(prompt.project_id).filter(prompt=prompt, number=number).first()
    if version is None:
        raise NotFound(f"{prompt.name} has no version {number}.", field="version")
    return version


@transaction.atomic
def prompt_label_move(
    *, prompt: Prompt, name: str, version: int, author: Author, role: str | None,
    rollback: bool = False, at: dt.datetime | None = None,
) -> tuple[PromptLabel, PromptLabelMove | None]:
    """Point the label ``name`` of ``prompt`` at its version ``version`` (made if new).

    ``role`` is the caller's membership role (None for an API key). Moving onto the version it
    already points at changes nothing and returns no move. ``at`` is for the demo's backdated
    history; it defaults to now.
    """
    name = validation.label_name(name)
    target = _version_in(prompt, version)
    now = at or timezone.now()
    label = PromptLabel.objects.for_project(prompt.project_id).select_for_update().filter(prompt=prompt, name=name).first()
    if label is None:
        try:
            with transaction.atomic():
                label = PromptLabel.objects.create(project_id=prompt.project_id, prompt=prompt, name=name, version=target, moved_at=now)
        except IntegrityError:  # made concurrently: move that one instead
            label = PromptLabel.objects.for_project(prompt.project_id).select_for_update().get(prompt=prompt, name=name)
        else:
            return label, _record(prompt, label, None, target, MoveKind.CREATE, author, now)
    if not may_move(label=label, role=role):
        raise _refuse_protected(label)
    if label.version_id == target.pk:
        label.version = target
        return label, None
    before = PromptVersion.objects.for_project(prompt.project_id).get(pk=label.version_id)
    kind = MoveKind.ROLLBACK if rollback or target.number < before.number else MoveKind.DEPLOY
    label.version, label.moved_at = target, now
    label.save(update_fields=["version", "moved_at"])
    return label, _record(prompt, label, before, target, kind, author, now)


def _record(prompt, label, before, target, kind, author: Author, now) -> PromptLabelMove:
    move = PromptLabelMove.objects.create(
        project_id=prompt.project_id, prompt=prompt, label=label, from_version=before, to_version=target, kind=kind,
        actor_id=author.user_id, actor_email=author.email, actor_label=author.label[:200], moved_at=now,
    )
    audit_record(
        organization=prompt.project.organization, actor=author.actor, action=AuditAction.PROMPT_LABEL_MOVED,
        target_type="prompt", target_id=prompt.pk, target_label=f"{prompt.name}:{label.name}",
        before={"label": label.name, "version": before.number if before else None},
        after={"label": label.name, "version": target.number, "kind": kind, **author.as_audit()},
    )
    cache.invalidate_on_commit(prompt.project_id, prompt.name)
    return move


@transaction.atomic
def prompt_label_rollback(*, prompt: Prompt, name: str, author: Author, role: str | None):
    """Move the label back to the version it pointed at before its current one (one click)."""
    label = PromptLabel.objects.for_project(prompt.project_id).select_for_update().filter(prompt=prompt, name=name).first()
    if label is None:
        raise NotFound(f"{prompt.name} has no label {name!r}.", field="label")
    if not may_move(label=label, role=role):
        raise _refuse_protected(label)
    previous = prompt_label_previous_version(label=label)
    if previous is None:
        raise Conflict(f"The label {name!r} has no earlier version to roll back to.", code="nothing_to_roll_back", field="label")
    return prompt_label_move(prompt=prompt, name=name, version=previous.number, author=author, role=role, rollback=True)


@transaction.atomic
def prompt_label_protect(*, label: PromptLabel, protected: bool, author: Author) -> PromptLabel:
    """Protect a label (only admins move it then) or lift the protection. Admins only (the views
    check the role); audited."""
    if not isinstance(protected, bool):
        raise ValidationFailed("protected is true or false.", field="protected")
    label = PromptLabel.objects.for_project(label.project_id).select_for_update().select_related("prompt").get(pk=label.pk)
    if label.protected == protected:
        return label
    label.protected = protected
    label.save(update_fields=["protected"])
    prompt = label.prompt
    audit_record(
        organization=prompt.project.organization, actor=author.actor, action=AuditAction.PROMPT_LABEL_PROTECTION,
        target_type="prompt", target_id=prompt.pk, target_label=f"{prompt.name}:{label.name}",
        before={"label": label.name, "protected": not protected}, after={"label": label.name, "protected": protected, **author.as_audit()},
    )
    return label
