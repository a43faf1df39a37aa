"""Captured agent runs.

Children (steps, signals, feedback) refer to their turn by ``(project, turn_id)`` without a
foreign-key constraint: they may arrive before the turn (OTLP exports child spans before the
root; feedback can beat a slow trace). Such a child is "waiting for its turn" until a turn with
that id lands in that project; it is kept durably and expires with the retention period.
"""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.core.models import ProjectOwnedModel


class TurnSource(models.TextChoices):
    SDK = "sdk", "SDK / REST"
    OTLP = "otlp", "OpenTelemetry"


class ReviewState(models.TextChoices):
    UNREVIEWED = "unreviewed", "Unreviewed"
    QUEUED = "queued", "In a review queue"
    REVIEWED = "reviewed", "Reviewed"


class Turn(ProjectOwnedModel):
    """One agent run with the full context that produced its answer.

    Keyed by ``(project, id)``: ``id`` is the client's UUID (an idempotency key), unique per
    project only, so the same UUID in two projects is two unrelated turns and no answer ever
    depends on another tenant's ids. The key is a composite primary key rather than a surrogate
    bigint plus a unique constraint: one unique index to maintain on the ingestion hot path
    instead of two, ``ON CONFLICT (project_id, id)`` hits the primary key, and it is the shape
    a PostgreSQL sharded by ``project_id`` (Citus) requires. What that costs, and why it is
    free here: ``turn.pk`` is the tuple ``(project_id, id)`` (code and templates use ``id``),
    the Django admin cannot list the model (it has no admin), and no foreign key can point at
    it (children already refer to ``(project, turn_id)``, see above).
    """

    pk = models.CompositePrimaryKey("project", "id")
    # The primary key starts with project_id: a separate index on it alone would only slow writes.
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, db_index=False)
    id = models.UUIDField()
    session_id = models.CharField(max_length=200, blank=True, default="")
    end_user_id = models.CharField(max_length=200, blank=True, default="")
    input = models.TextField(blank=True, default="")
    output = models.TextField(blank=True, default="")
    history = models.JSONField(default=list, blank=True)
    prompt_version = models.CharField(max_length=200, blank=True, default="")
    model = models.CharField(max_length=200, blank=True, default="")
    retrieved = models.JSONField(default=list, blank=True)
    tool_calls = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    variant = models.CharField(max_length=100, blank=True, default="")
    source = models.CharField(max_length=8, choices=TurnSource.choices, default=TurnSource.SDK)
    created_at = models.DateTimeField(default=timezone.now, help_text="When the turn happened.")
    received_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    review_state = models.CharField(max_length=12, choices=ReviewState.choices, default=ReviewState.UNREVIEWED)
    redactions = models.JSONField(
        default=dict, blank=True, db_default={},
        help_text='What PII redaction replaced in this turn and its nested steps, per kind: {"email": 2}.',
    )

    class Meta(ProjectOwnedModel.Meta):
        indexes = [
            # Keyset pagination of the explorer: newest first, id as the tie-breaker.
            models.Index(fields=["project", "-created_at", "-id"], name="traces_turn_created_idx"),
            models.Index(fields=["project", "session_id", "created_at"], name="traces_turn_session_idx"),
            models.Index(fields=["project", "end_user_id", "-created_at"], name="traces_turn_user_idx"),
            models.Index(fields=["project", "prompt_version", "-created_at"], name="traces_turn_prompt_idx"),
            models.Index(fields=["project", "model", "-created_at"], name="traces_turn_model_idx"),
            models.Index(fields=["project", "variant", "-created_at"], name="traces_turn_variant_idx"),
            models.Index(fields=["expires_at"], name="traces_turn_expires_idx", condition=Q(expires_at__isnull=False)),
            # The detection sweep (apps.detection.services.sweep.SWEEP_MISSED_SQL): turns of every project
            # in received order; project and id ride along for the pass lookup (index-only scan).
            models.Index(fields=["received_at"], include=["project", "id"], name="traces_turn_received_idx"),
            GinIndex(SearchVector("input", "output", config="simple"), name="traces_turn_text_idx"),
        ]

    def __str__(self) -> str:
        return f"turn {self.id}"


# A child (step, signal, feedback) stored before its turn carries ``waiting``; storing the turn
# clears it. It is a hint that keeps "waiting for their turn" a scan of a small partial index
# instead of an anti-join over every child: readers still check that the turn is absent (a child
# and its turn committed concurrently can leave a stale flag, which expiry clears).
WAITING_HELP = "Stored before its turn arrived (a hint; the turn's absence is what counts)."


class StepKind(models.TextChoices):
    LLM = "llm", "LLM call"
    TOOL = "tool", "Tool call"
    RETRIEVAL = "retrieval", "Retrieval"
    OTHER = "other", "Other"


class Step(ProjectOwnedModel):
    """A span inside a turn. ``span_id`` is the client's id (OTLP span id in hex)."""

    turn_id = models.UUIDField()
    span_id = models.CharField(max_length=64)
    parent_span_id = models.CharField(max_length=64, blank=True, default="")
    kind = models.CharField(max_length=12, choices=StepKind.choices, default=StepKind.OTHER)
    name = models.CharField(max_length=200, blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    attributes = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    waiting = models.BooleanField(default=False, db_default=False, help_text=WAITING_HELP)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "turn_id", "span_id"], name="traces_step_span_uniq"),
        ]
        indexes = [
            models.Index(fields=["expires_at"], name="traces_step_expires_idx"),
            models.Index(fields=["project", "turn_id"], name="traces_step_waiting_idx", condition=Q(waiting=True)),
        ]

    @property
    def duration_ms(self) -> float | None:
        if self.started_at and self.ended_at:
            return (self.ended_at - self.started_at).total_seconds() * 1000
        return None


class SignalSource(models.TextChoices):
    SDK = "sdk", "SDK / API"
    WIDGET = "widget", "Feedback widget"
    DETECTOR = "detector", "Detector"
    REVIEWER = "reviewer", "Reviewer"
    OTLP = "otlp", "OpenTelemetry"
    LLM_JUDGE = "llm_judge", "LLM judge"


class Signal(ProjectOwnedModel):
    """Evidence about a turn: explicit (thumbs, rating) or implicit (rephrase, escalation…)."""

    turn_id = models.UUIDField()
    kind = models.CharField(max_length=64)
    value = models.JSONField(null=True, blank=True)
    source = models.CharField(max_length=12, choices=SignalSource.choices, default=SignalSource.SDK)
    dedupe_key = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    waiting = models.BooleanField(default=False, db_default=False, help_text=WAITING_HELP)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["project", "turn_id", "kind", "source", "dedupe_key"], name="traces_signal_dedupe_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["project", "kind", "-created_at"], name="traces_signal_kind_idx"),
            models.Index(fields=["expires_at"], name="traces_signal_expires_idx"),
            models.Index(fields=["project", "turn_id"], name="traces_signal_waiting_idx", condition=Q(waiting=True)),
        ]

    def __str__(self) -> str:
        return f"{self.kind}={self.value!r} ({self.source})"


class FeedbackSource(models.TextChoices):
    SDK = "sdk", "SDK / API"
    WIDGET = "widget", "Feedback widget"
    REVIEWER = "reviewer", "Reviewer"


class Feedback(ProjectOwnedModel):
    """An end user's or reviewer's annotation of a turn; one row per id (upserted).

    ``rating`` is ``"up"``/``"down"`` (thumbs) or ``"1"``…``"5"`` (stars). Like every child of
    a turn it refers to it by id and may arrive first (see the module docstring).

    Keyed by ``(project, id)`` like ``Turn`` and for the same reasons (see its docstring): a
    feedback id is unique per project, and ``feedback.pk`` is the tuple ``(project_id, id)``.
    The table keeps the name it had in apps.feedback, where the model lived before capture
    became one app (traces/migrations/0005_feedback_from_feedback_app.py moved it, rows and all).
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
        db_table = "feedback_feedback"
        indexes = [
            models.Index(fields=["project", "turn_id"], name="feedback_feedback_turn_idx"),
            models.Index(fields=["project", "-created_at"], name="feedback_feedback_created_idx"),
            models.Index(fields=["expires_at"], name="feedback_feedback_expires_idx"),
            models.Index(fields=["project", "turn_id"], name="feedback_feedback_waiting_idx", condition=Q(waiting=True)),
            # An end user's feedback on any turn (export and deletion of their data).
            models.Index(fields=["project", "end_user_id"], name="feedback_feedback_user_idx", condition=~Q(end_user_id="")),
        ]


class DeletionReason(models.TextChoices):
    RETENTION = "retention", "Retention"
    END_USER = "end_user", "End-user deletion"


class TurnTombstone(ProjectOwnedModel):
    """What remains of a deleted turn: its id, when it happened, when and why it went.

    Lineage elsewhere (dataset cases, review decisions, problem memberships, audit rows) refers to
    turns by id, never by foreign key, so it survives the turn; pages that link a turn that is
    gone look its tombstone up and say "deleted on … (retention)" instead of a dead link. It holds
    no content and no end-user id, so it can outlive an end user's deletion. Keyed like ``Turn``.
    """

    pk = models.CompositePrimaryKey("project", "id")
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, db_index=False)
    id = models.UUIDField(help_text="The deleted turn's id.")
    turn_created_at = models.DateTimeField(help_text="When the turn happened.")
    deleted_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=12, choices=DeletionReason.choices)

    def __str__(self) -> str:
        return f"turn {self.id} (deleted {self.deleted_at:%Y-%m-%d}, {self.reason})"
