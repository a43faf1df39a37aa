"""Changes: a candidate prompt version addressing backlog problems, and the promotion gate.

``change_promote`` moves the label (``production`` by default) from the baseline to the candidate
only when the change's latest validation says ``ship``; otherwise 409 ``not_validated``, unless an
admin overrides with a written reason (audited with the report attached). Promotion and
rollback are label moves (``services.labels``, audited there too).
"""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone

from apps.core.audit import AuditAction, audit_record
from apps.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from apps.core.roles import Role, role_at_least
from apps.core.text import required_name
from apps.experiments.models import LABEL_PATTERN, Change, ChangeStatus, PromptLabel, PromptVersion, Regression
from apps.experiments.selectors.changes import change_latest_validation
from apps.experiments.services.labels import prompt_label_move
from apps.experiments.services.prompts import Author
from apps.problems.models import Problem

MAX_REASON = 2000
LABEL_RE = re.compile(rf"^{LABEL_PATTERN}$")


def _version(project, prompt_name, number, field: str) -> PromptVersion:
    found = (PromptVersion.objects.for_project(project).select_related("prompt")
             .filter(prompt__name=prompt_name, number=number).first()) if isinstance(number, int) and not isinstance(number, bool) else None
    if found is None:
        raise NotFound(f"{prompt_name} has no version {number}.", field=field)
    return found


@transaction.atomic
def change_create(*, project, title: str, prompt: str, candidate: int, baseline: int | None = None,
                  problems: list | None = None, description: str = "", label: str = "production", author: Author) -> Change:
    title = required_name(title, "title", max_length=200)
    if not isinstance(prompt, str) or not 1 <= len(prompt) <= 100:
        raise ValidationFailed("prompt is the prompt's name.", field="prompt")
    if not isinstance(description, str) or len(description) > 10_000 or "\x00" in description:
        raise ValidationFailed("description is text (at most 10,000 characters).", field="description")
    if not isinstance(label, str) or not LABEL_RE.match(label):
        raise ValidationFailed("label is a label name, e.g. production.", field="label")
    cand = _version(project, prompt, candidate, "candidate")
    if baseline is None:
        holder = PromptLabel.objects.for_project(project).filter(prompt=cand.prompt, name=label).select_related("version").first()
        if holder is None:
            raise ValidationFailed(f"No version holds {label!r}: name the baseline.", code="no_baseline", field="baseline")
        base = holder.version
    else:
        base = _version(project, prompt, baseline, "baseline")
    if base.pk == cand.pk:
        raise ValidationFailed("The candidate is the baseline: name a different version.", code="same_arms", field="candidate")
    ids = problems or []
    if not isinstance(ids, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in ids) or len(ids) > 50:
        raise ValidationFailed("problems is a list of problem ids.", field="problems")
    found = list(Problem.objects.for_project(project).filter(pk__in=ids))
    if len(found) != len(set(ids)):
        raise NotFound("No such problem in this project.", field="problems")
    change = Change.objects.create(project=project, title=title, description=description or "", candidate=cand,
                                   baseline=base, label=label, created_by_id=author.user_id,
                                   created_by_label=(author.email or author.label)[:254])
    change.problems.set(found)
    audit_record(organization=project.organization, actor=author.actor, action=AuditAction.CHANGE_CREATED,
                 target_type="change", target_id=change.pk, target_label=change.title,
                 after={"candidate": cand.number, "baseline": base.number, "prompt": prompt, **author.as_audit()})
    return change


@transaction.atomic
def change_promote(*, change: Change, author: Author, role: str | None, override_reason: str | None = None) -> Change:
    """Move the label to the candidate (see the module doc). ``role`` None is an API key."""
    change = Change.objects.for_project(change.project_id).select_for_update().select_related("candidate__prompt", "project").get(pk=change.pk)
    latest = change_latest_validation(change)
    shipped = latest is not None and latest.verdict == "ship"
    if not shipped:
        if override_reason is None:
            verdict = latest.verdict if latest else "no validation"
            raise Conflict(f"The latest validation says {verdict!r}, not 'ship': promotion needs a ship verdict "
                           "(or an admin's override with a reason).", code="not_validated", field="change")
        if role is None or not role_at_least(role, Role.ADMIN):
            raise Forbidden("Only admins may promote without a ship verdict.", field="override_reason")
        if not isinstance(override_reason, str) or not override_reason.strip() or len(override_reason) > MAX_REASON:
            raise ValidationFailed(f"Write the reason for the override (1–{MAX_REASON} characters).", field="override_reason")
    prompt = change.candidate.prompt
    prompt_label_move(prompt=prompt, name=change.label, version=change.candidate.number, author=author, role=role)
    change.status, change.promoted_at = ChangeStatus.PROMOTED, timezone.now()
    change.save(update_fields=["status", "promoted_at"])
    audit_record(
        organization=change.project.organization, actor=author.actor,
        action=AuditAction.CHANGE_PROMOTED if shipped else AuditAction.CHANGE_OVERRIDDEN,
        target_type="change", target_id=change.pk, target_label=change.title,
        before={"label": change.label, "version": change.baseline.number},
        after={"label": change.label, "version": change.candidate.number, "validation": latest.pk if latest else None,
               "verdict": latest.verdict if latest else None, **({"reason": override_reason.strip(),
               "report": latest.report if latest else None} if not shipped else {}), **author.as_audit()},
    )
    return change


@transaction.atomic
def change_rollback(*, change: Change, author: Author, role: str | None) -> Change:
    """Move the label back to the baseline (one click; audited); resolves open regressions."""
    change = Change.objects.for_project(change.project_id).select_for_update().select_related("baseline__prompt", "project").get(pk=change.pk)
    if change.status != ChangeStatus.PROMOTED:
        raise Conflict("Only a promoted change rolls back.", code="not_promoted", field="change")
    prompt_label_move(prompt=change.baseline.prompt, name=change.label, version=change.baseline.number, author=author,
                      role=role, rollback=True)
    change.status = ChangeStatus.ROLLED_BACK
    change.save(update_fields=["status"])
    Regression.objects.for_project(change.project_id).filter(change=change, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), rolled_back=True)
    audit_record(organization=change.project.organization, actor=author.actor, action=AuditAction.CHANGE_ROLLED_BACK,
                 target_type="change", target_id=change.pk, target_label=change.title,
                 before={"label": change.label, "version": change.candidate.number},
                 after={"label": change.label, "version": change.baseline.number, **author.as_audit()})
    return change
