"""Prompts and agent configurations: named prompts, immutable numbered versions, movable labels.

- ``Prompt``: a name unique in its project (``[A-Za-z0-9][A-Za-z0-9._-]*``, so ``<name>@<n>``
  is unambiguous), a description, and the counter its versions are numbered from.
- ``PromptVersion``: number 1..N, template text, the ``{{variables}}`` it uses, tool definitions
  and settings (model, temperature, max tokens, any JSON), message, author, time. Immutable: a
  database trigger refuses UPDATE and DELETE (migration 0002), except the DELETE that purges a
  whole project (``apps.core.sql.project_purge_allowed``).
- ``PromptLabel``: ``production``, ``staging`` or any name, pointing at one version of the same
  prompt in the same project (a composite foreign key says so in the database too); a protected
  label only moves for admins.
- ``PromptLabelMove``: the label's history, append-only like the versions: who moved it, when,
  from which version to which, deploy or rollback.

The author and the mover are kept as a user id and an e-mail copied at the time, not a foreign
key: removing a user never rewrites a version (a ``SET_NULL`` would be an UPDATE).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from apps.core.models import ProjectOwnedModel

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
LABEL_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,49}"


class Prompt(ProjectOwnedModel):
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    latest_version = models.PositiveIntegerField(default=0, help_text="The highest version number (0: none yet).")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="experiments_prompt_name_uniq"),
            # The target of the versions' and labels' composite foreign keys (migration 0002).
            models.UniqueConstraint(fields=["project", "id"], name="experiments_prompt_project_id_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class PromptVersion(ProjectOwnedModel):
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    template = models.TextField()
    variables = models.JSONField(default=list, blank=True)
    tools = models.JSONField(default=list, blank=True)
    settings = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True, default="")
    author_id = models.BigIntegerField(null=True, blank=True)
    author_email = models.CharField(max_length=254, blank=True, default="")
    author_label = models.CharField(max_length=200, blank=True, default="", help_text="Who, when not a user (an API key).")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "prompt", "number"], name="experiments_promptversion_number_uniq"),
            models.UniqueConstraint(fields=["project", "prompt", "id"], name="experiments_promptversion_prompt_id_uniq"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="experiments_promptversion_number_min_check"),
        ]

    def __str__(self) -> str:
        return f"{self.prompt.name}@{self.number}"

    @property
    def author(self) -> str:
        return self.author_email or self.author_label or "(unknown)"


class PromptLabel(ProjectOwnedModel):
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=50)
    version = models.ForeignKey(PromptVersion, on_delete=models.CASCADE, related_name="labels")
    protected = models.BooleanField(default=False)
    moved_at = models.DateTimeField(default=timezone.now)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "prompt", "name"], name="experiments_promptlabel_name_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.version_id}"


class MoveKind(models.TextChoices):
    CREATE = "create", "Created"
    DEPLOY = "deploy", "Deploy"
    ROLLBACK = "rollback", "Rollback"


class PromptLabelMove(ProjectOwnedModel):
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="+")
    label = models.ForeignKey(PromptLabel, on_delete=models.CASCADE, related_name="moves")
    from_version = models.ForeignKey(PromptVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    to_version = models.ForeignKey(PromptVersion, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=MoveKind.choices)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_email = models.CharField(max_length=254, blank=True, default="")
    actor_label = models.CharField(max_length=200, blank=True, default="")
    moved_at = models.DateTimeField(default=timezone.now)

    class Meta(ProjectOwnedModel.Meta):
        indexes = [
            models.Index(fields=["project", "label", "-moved_at"], name="exp_labelmove_label_idx"),
            models.Index(fields=["project", "to_version", "moved_at"], name="exp_labelmove_to_idx"),
        ]

    @property
    def actor(self) -> str:
        return self.actor_email or self.actor_label or "(unknown)"
