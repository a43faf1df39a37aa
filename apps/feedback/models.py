from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.core.models import ProjectOwnedModel
from apps.traces.models import WAITING_HELP


class FeedbackSource(models.TextChoices):
    SDK = "sdk", "SDK / API"
    WIDGET = "widget", "Feedback widget"
    REVIEWER = "reviewer", "Reviewer"


class Feedback(ProjectOwnedModel):
    """An end user's or reviewer's annotation of a turn; one row per id (upserted).

    ``rating`` is ``"up"``/``"down"`` (thumbs) or ``"1"``…``"5"`` (stars). Like every child of
    a turn it refers to it by id and may arrive first (see apps.traces.models).

    Keyed by ``(project, id)`` like ``Turn`` and for the same reasons (see its docstring): a
    feedback id is unique per project, and ``feedback.pk`` is the tuple ``(project_id, id)``.
    """

    pk = models.CompositePrimaryKey("project", "id")
    # The primary key starts with project_id: a separate index on it alone would only slow writes.
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, db_index=False)
    id = models.UUIDField()
    turn_id = models.UUIDField()
    end_user_id = models.CharField(max_length=200, blank=True, default="")
    rating = models.CharField(max_length=4, blank=True, default="")
    comment = models.TextField(blank=True, default="")
    correction = models.TextField(blank=True, default="")
    source = models.CharField(max_length=12, choices=FeedbackSource.choices, default=FeedbackSource.SDK)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    waiting = models.BooleanField(default=False, db_default=False, help_text=WAITING_HELP)

    class Meta(ProjectOwnedModel.Meta):
        indexes = [
            models.Index(fields=["project", "turn_id"], name="feedback_feedback_turn_idx"),
            models.Index(fields=["project", "-created_at"], name="feedback_feedback_created_idx"),
            models.Index(fields=["expires_at"], name="feedback_feedback_expires_idx"),
            models.Index(fields=["project", "turn_id"], name="feedback_feedback_waiting_idx", condition=Q(waiting=True)),
        ]
