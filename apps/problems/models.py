"""Problems: clusters of flagged or confirmed turns, with a proposed cause and a pain score.

A turn is in at most one problem (``ProblemTurn`` is unique per ``(project, turn_id)``) and is
referred to by id without a foreign key, like every other turn child (apps/traces/models.py).
Each membership keeps a snapshot of the turn's facts at clustering time (severity, signal kinds,
prompt version, failed tools, …): the backlog's counters and the cause evidence are aggregates
over those rows, so they stay cheap and survive the turn's expiry.

``ClusteringState`` holds the per-project watermarks that make the clustering job incremental
(apps/problems/services/clustering.py).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.core.models import ProjectOwnedModel


class ProblemStatus(models.TextChoices):
    OPEN = "open", "Open"
    CONFIRMED = "confirmed", "Confirmed"
    FIXING = "fixing", "Fixing"
    FIXED = "fixed", "Fixed"
    WONT_FIX = "wont_fix", "Won't fix"
    MERGED = "merged", "Merged"


# What a person may set; "merged" is reached only by merging.
SETTABLE_STATUSES = [s for s in ProblemStatus.values if s != ProblemStatus.MERGED]
UNRESOLVED_STATUSES = [ProblemStatus.OPEN, ProblemStatus.CONFIRMED, ProblemStatus.FIXING]


class CauseState(models.TextChoices):
    NONE = "none", "No cause proposed"
    PROPOSED = "proposed", "Proposed"
    CONFIRMED = "confirmed", "Confirmed"
    REJECTED = "rejected", "Rejected"


class Problem(ProjectOwnedModel):
    """A cluster of similar failures. Grouping keys: failure category and failed tool (exact);
    text similarity of the inputs to ``centroid`` decides within a key."""

    title = models.CharField(max_length=200)
    title_locked = models.BooleanField(default=False, help_text="Renamed by a person: clustering keeps the title.")
    representative_input = models.TextField(blank=True, default="", help_text="The input nearest the centroid.")
    status = models.CharField(max_length=10, choices=ProblemStatus.choices, default=ProblemStatus.OPEN)
    category = models.CharField(max_length=64, blank=True, default="", help_text="Failure category (grouping key).")
    key_tool = models.CharField(max_length=200, blank=True, default="", help_text="Failed tool (grouping key).")
    prompt_version = models.CharField(max_length=200, blank=True, default="", help_text="Most frequent prompt version.")

    # Incremental clustering state: a sparse, truncated mean of the members' text vectors.
    centroid = models.JSONField(default=dict, blank=True)
    centroid_weight = models.PositiveIntegerField(default=0)

    cause = models.TextField(blank=True, default="")
    cause_key = models.CharField(max_length=300, blank=True, default="")
    cause_state = models.CharField(max_length=10, choices=CauseState.choices, default=CauseState.NONE)
    evidence = models.JSONField(default=dict, blank=True)
    rejected_causes = models.JSONField(default=list, blank=True, help_text="Cause keys a reviewer rejected.")
    cause_reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cause_reviewed_at = models.DateTimeField(null=True, blank=True)

    turn_count = models.PositiveIntegerField(default=0)
    user_count = models.PositiveIntegerField(default=0)
    severity = models.FloatField(default=0.0, help_text="Mean signal severity of the members, 1–5.")
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    count_last_7d = models.PositiveIntegerField(default=0)
    count_prev_7d = models.PositiveIntegerField(default=0)
    recency = models.FloatField(default=0.0)
    trend = models.FloatField(default=1.0)
    pain = models.FloatField(default=0.0)

    needs_cause = models.BooleanField(default=True, help_text="Members changed since the cause was last proposed.")
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    regressed_at = models.DateTimeField(null=True, blank=True, help_text="New failures after it was marked fixed.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ProblemStatus.values), name="problems_problem_status_check"),
            models.CheckConstraint(condition=Q(cause_state__in=CauseState.values), name="problems_problem_cause_state_check"),
            models.CheckConstraint(
                condition=Q(status="merged", merged_into__isnull=False) | (~Q(status="merged") & Q(merged_into__isnull=True)),
                name="problems_problem_merged_check",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "status", "-pain"], name="problems_problem_rank_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_merged(self) -> bool:
        return self.status == ProblemStatus.MERGED


class ProblemTurn(ProjectOwnedModel):
    """A turn's membership in a problem, with a snapshot of its facts at clustering time.

    ``pinned`` memberships were set by a person (split, merge): the clustering job never moves
    or removes them.
    """

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="memberships")
    turn_id = models.UUIDField()
    pinned = models.BooleanField(default=False)
    added_at = models.DateTimeField(default=timezone.now)

    turn_created_at = models.DateTimeField()
    affected_key = models.CharField(max_length=220, help_text="End user id, else session, else turn: who was hurt.")
    severity = models.PositiveSmallIntegerField(default=1)
    category = models.CharField(max_length=64, blank=True, default="")
    key_tool = models.CharField(max_length=200, blank=True, default="")
    signal_kinds = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    failed_tools = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    retrieval_gap = models.CharField(max_length=12, blank=True, default="", help_text="'empty', 'low_score' or ''.")
    prompt_version = models.CharField(max_length=200, blank=True, default="")
    model = models.CharField(max_length=200, blank=True, default="")

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "turn_id"], name="problems_problemturn_turn_uniq"),
        ]
        indexes = [
            models.Index(fields=["project", "problem", "-turn_created_at"], name="problems_member_problem_idx"),
        ]


class ClusteringState(ProjectOwnedModel):
    """Per-project watermarks: the highest signal, review decision and detection pass ids the
    clustering job has taken into account (``bigserial`` ids; see the lag in the job)."""

    signal_watermark = models.BigIntegerField(default=0)
    decision_watermark = models.BigIntegerField(default=0)
    pass_watermark = models.BigIntegerField(default=0)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_run = models.JSONField(default=dict, blank=True)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project"], name="problems_clusteringstate_project_uniq"),
        ]
