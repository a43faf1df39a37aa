"""Writing prompt versions. A version is never edited: a change is a new version."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.core.audit import Actor, AuditAction, audit_record
from apps.core.errors import Conflict
from apps.experiments import cache, validation
from apps.experiments.models import Prompt, PromptVersion


@dataclass(frozen=True)
class Author:
    """Who writes: a signed-in member (``actor.user``) or an API key (``label`` names it)."""

    actor: Actor
    label: str = ""

    @property
    def user_id(self):
        return getattr(self.actor.user, "pk", None)

    @property
    def email(self) -> str:
        return getattr(self.actor.user, "email", "") or ""

    def as_audit(self) -> dict:
        return {"via": self.label} if self.label else {}


def _prompt_locked(*, project, name: str, description: str, now) -> tuple[Prompt, bool]:
    """The prompt row, locked; made if it does not exist yet (race-safe on the unique name)."""
    prompt = Prompt.objects.for_project(project).select_for_update().filter(name=name).first()
    if prompt is not None:
        return prompt, False
    try:
        with transaction.atomic():
            Prompt.objects.create(project=project, name=name, description=description, created_at=now, updated_at=now)
    except IntegrityError:
        pass  # a concurrent request made it first: use that one
    return Prompt.objects.for_project(project).select_for_update().get(name=name), True


@transaction.atomic
def prompt_version_create(
    *,
    project,
    name: str,
    template,
    tools=None,
    settings=None,
    message="",
    description=None,
    author: Author,
    created_at: dt.datetime | None = None,
) -> PromptVersion:
    """Version N+1 of the prompt ``name`` (made, with ``description``, if it is new).

    Everything is validated before anything is written (``apps.experiments.validation``).
    ``created_at`` is for backfills and the demo; it defaults to now.
    """
    name = validation.prompt_name(name)
    template = validation.template_text(template)
    tools = validation.tool_definitions(tools)
    settings = validation.model_settings(settings)
    message = validation.message_text(message)
    description = validation.description_text(description) if description is not None else None
    now = created_at or timezone.now()

    prompt, created = _prompt_locked(project=project, name=name, description=description or "", now=now)
    if description is not None and not created and description != prompt.description:
        prompt.description = description
    prompt.latest_version = F("latest_version") + 1
    prompt.updated_at = max(now, prompt.updated_at)
    prompt.save(update_fields=["latest_version", "updated_at", "description"])
    prompt.refresh_from_db(fields=["latest_version"])
    try:
        with transaction.atomic():
            version = PromptVersion.objects.create(
                project=project, prompt=prompt, number=prompt.latest_version, template=template,
                variables=validation.template_variables(template), tools=tools, settings=settings, message=message,
                author_id=author.user_id, author_email=author.email, author_label=author.label[:200], created_at=now,
            )
    except IntegrityError:  # the row lock makes this unreachable short of a manual insert
        raise Conflict("Another version was created at the same time; retry.", code="conflict") from None
    version.prompt = prompt
    audit_record(
        organization=project.organization, actor=author.actor, action=AuditAction.PROMPT_VERSION_CREATED,
        target_type="prompt", target_id=prompt.pk, target_label=f"{name}@{version.number}",
        after={"version": version.number, "message": message[:200], **author.as_audit()},
    )
    cache.invalidate_on_commit(project.pk, name)
    return version
