from django.db import models
from django.utils import timezone

from apps.core.models import ProjectOwnedModel


class FeedbackSource(models.TextChoices):
    SDK = "sdk", "SDK / API"
    WIDGET = "widget", "Feedback widget"
    REVIEWER = "reviewer", "Reviewer"


class Feedback(ProjectOwnedModel):
    """An end user's or reviewer's annotation of a turn; one row per id (upserted).

    ``rating`` is ``"up"``/``"down"`` (thumbs) or ``"1"``…``"5"`` (stars). Like every child of
    a turn it refers to it by id and may arrive first (see apps.traces.models).
    """

    id = models.UUIDField(primary_key=True)
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

    class Meta(ProjectOwnedModel.Meta):
        indexes = [
            models.Index(fields=["project", "turn_id"], name="feedback_feedback_turn_idx"),
            models.Index(fields=["project", "-created_at"], name="feedback_feedback_created_idx"),
            models.Index(fields=["expires_at"], name="feedback_feedback_expires_idx"),
        ]
