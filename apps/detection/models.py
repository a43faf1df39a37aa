"""Per-project detector settings, customer rules, and the marker of turns a detector pass saw.

Detector output itself is stored as ``traces.Signal`` rows with source ``detector``; the
signal's unique key makes a second pass a no-op.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from apps.core import sealing
from apps.core.models import ProjectOwnedModel


class DetectorSettings(ProjectOwnedModel):
    """One row per (project, detector); a missing row means "enabled with default params".

    ``params`` holds only the values the project changed; ``apps.detection.config`` validates
    them against the detector's schema and fills in the defaults.
    """

    detector = models.CharField(max_length=40)
    enabled = models.BooleanField(default=True)
    params = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "detector"], name="detection_detectorsettings_detector_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.detector} ({'on' if self.enabled else 'off'})"


class DetectionRule(ProjectOwnedModel):
    """A customer rule: when ``expression`` holds for a turn, emit a ``signal_kind`` signal.

    ``ast`` is the parsed form of ``expression`` (apps.detection.rules); it is what runs.
    """

    name = models.CharField(max_length=100)
    expression = models.TextField()
    ast = models.JSONField()
    signal_kind = models.CharField(max_length=64)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="detection_detectionrule_name_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class DetectionPass(ProjectOwnedModel):
    """A turn a detector pass has seen. ``recheck_after`` is set while a windowed decision
    (abandonment, rephrase) is still open; the sweep re-runs the session once it passes.

    The sweep looks for turns without a row (their task was lost, e.g. Redis was down) and
    rows whose ``recheck_after`` is due; both queries are bounded by a batch size.
    """

    turn_id = models.UUIDField()
    detected_at = models.DateTimeField(default=timezone.now)
    recheck_after = models.DateTimeField(null=True, blank=True)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "turn_id"], name="detection_detectionpass_turn_uniq"),
        ]
        indexes = [
            models.Index(
                fields=["recheck_after"], name="detection_pass_recheck_idx", condition=models.Q(recheck_after__isnull=False)
            ),
        ]


class SweepCursor(models.Model):
    """How far the sweep's scan of ``traces_turn`` (ordered by ``received_at``, then ``id``) has
    got: every turn before the cursor was seen by a pass or examined by the sweep.

    Not project-owned: the scan runs over one index of every project's turns
    (``traces_turn_received_idx``), so the position is one key for all of them; a per-project
    position could not bound that scan (an idle project's old position would pin it to the
    lookback). One row per scan (``name``); it only ever moves forward.
    """

    name = models.CharField(max_length=40, primary_key=True)
    received_at = models.DateTimeField()
    turn_id = models.UUIDField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.received_at:%Y-%m-%d %H:%M:%S}"


def judge_key_context(project_id) -> str:
    """What a sealed judge API key is bound to: its project."""
    return f"judge-key:{project_id}"


class JudgeSettings(ProjectOwnedModel):
    """The project's LLM judge (apps.detection.judge): off until an admin turns it on.

    ``api_key`` is sealed (apps.core.sealing) bound to the project id and never shown back;
    ``prompts`` holds only the kinds whose prompt the project changed (the defaults live in
    code, so improving a default reaches every project that kept it).
    """

    enabled = models.BooleanField(default=False)
    endpoint_url = models.URLField(max_length=500, blank=True, default="")
    model = models.CharField(max_length=100, blank=True, default="")
    api_key = models.BinaryField(null=True, blank=True)
    signal_kinds = models.JSONField(default=list, blank=True)
    prompts = models.JSONField(default=dict, blank=True)
    requests_per_minute = models.PositiveIntegerField(default=60)
    turns_per_day = models.PositiveIntegerField(default=1000)
    price_per_1k_tokens = models.DecimalField(max_digits=10, decimal_places=6, default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project"], name="detection_judgesettings_project_uniq"),
        ]

    def api_key_plain(self) -> str:
        """The key, unsealed ("" when none); raises ``apps.core.sealing.Unsealable``."""
        return sealing.unseal(bytes(self.api_key), context=judge_key_context(self.project_id)).decode() if self.api_key else ""


sealing.register_binary(
    "judge.api_key", model=JudgeSettings, field="api_key", context=lambda row: judge_key_context(row.project_id)
)


class JudgeVerdict(ProjectOwnedModel):
    """Every verdict the judge returned, positive or not: the cache (a rerun with the same prompt
    and model costs nothing) and the judged set the agreement table compares the rules on. A
    positive verdict is also stored as a ``traces.Signal`` with source ``llm_judge``; a negative
    one is not (it would route the turn into review)."""

    turn_id = models.UUIDField()
    kind = models.CharField(max_length=64)
    prompt_hash = models.CharField(max_length=64)
    model = models.CharField(max_length=100)
    verdict = models.BooleanField()
    confidence = models.FloatField()
    reason = models.TextField(blank=True, default="")
    tokens = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["project", "turn_id", "kind", "prompt_hash", "model"], name="detection_judgeverdict_cache_uniq",
            ),
        ]


class JudgeUsage(ProjectOwnedModel):
    """The judge's spend per project and UTC day: the daily budget (``turns``) and the usage
    shown on the Detectors tab. Counters move by ``F()`` updates only."""

    day = models.DateField()
    turns = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    malformed = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "day"], name="detection_judgeusage_day_uniq"),
        ]
