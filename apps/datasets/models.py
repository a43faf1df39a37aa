"""Eval datasets: cases copied from confirmed failures (or written by hand), in immutable versions.

Storage: a version is a snapshot without a copy of its cases. Each case is a chain of immutable
``CaseRevision`` rows; a revision is live in the versions ``[added_in, removed_in)`` of its
dataset, so version N is ``added_in <= N AND (removed_in IS NULL OR removed_in > N)``. A change
(add, edit, remove, move to a split) writes only what changed: new revisions with
``added_in = N`` and ``removed_in = N`` on the revisions they replace, then the ``DatasetVersion``
row N. The database enforces it (migration 0002): versions can be neither updated nor deleted,
a revision's content never changes, ``removed_in`` is set once and only to a version not yet
created, and a revision cannot be added to a version that exists.

A case copies what it needs from its turn (question, history, retrieved documents and tool
results, the reviewer's correction) and keeps its lineage by id, never a foreign key: the turn may
expire or be deleted, and the lineage then shows a tombstone that keeps the id. Decisions and
problems are referred to by id and a copied label for the same reason (a queue's deletion
cascades to its decisions; problems merge).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.core.models import ProjectOwnedModel

CASE_FIELDS = ("input", "history", "context", "expected_output", "failure_category", "tags", "split", "metadata")
LINEAGE_FIELDS = (
    "turn_id", "decision_id", "reviewer_email", "problem_id", "problem_title", "source", "added_at",
)


class CaseSource(models.TextChoices):
    TURN = "turn", "From a turn"
    HAND = "hand", "Written by hand"
    IMPORT = "import", "Imported"
    API = "api", "API"


class Dataset(ProjectOwnedModel):
    """A named, versioned set of eval cases. ``latest_version`` is 0 before the first change."""

    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    archived = models.BooleanField(default=False)
    latest_version = models.PositiveIntegerField(default=0)
    cases_count = models.PositiveIntegerField(default=0, help_text="Cases in the latest version.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="datasets_dataset_name_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class DatasetVersion(ProjectOwnedModel):
    """An immutable snapshot: number 1..N per dataset, who made it, why, and its counts.

    The author is kept by id without a constraint and by e-mail (like the audit log): removing a
    user must not rewrite a row the database refuses to update.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    message = models.CharField(max_length=500, blank=True, default="")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+",
    )
    author_label = models.CharField(max_length=254, blank=True, default="", help_text="E-mail, or the API key's name.")
    created_at = models.DateTimeField(default=timezone.now)
    cases_count = models.PositiveIntegerField(default=0)
    added_count = models.PositiveIntegerField(default=0)
    removed_count = models.PositiveIntegerField(default=0)
    changed_count = models.PositiveIntegerField(default=0)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "dataset", "number"], name="datasets_version_number_uniq"),
            models.CheckConstraint(condition=Q(number__gte=1), name="datasets_version_number_check"),
        ]


class CaseRevision(ProjectOwnedModel):
    """One immutable state of one case (``case_id``), live in versions ``[added_in, removed_in)``.

    ``position`` orders a dataset's cases (keyset pagination) and stays with the case across its
    revisions, so an edit does not move it. Lineage fields are copies and ids, no foreign keys.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+", db_index=False)
    case_id = models.UUIDField(default=uuid.uuid4)
    position = models.BigIntegerField()
    added_in = models.PositiveIntegerField()
    removed_in = models.PositiveIntegerField(null=True, blank=True)

    input = models.TextField(blank=True, default="")
    history = models.JSONField(default=list, blank=True)
    context = models.JSONField(default=dict, blank=True)
    expected_output = models.TextField(blank=True, default="")
    failure_category = models.CharField(max_length=64, blank=True, default="")
    tags = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    split = models.CharField(max_length=64, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)

    source = models.CharField(max_length=8, choices=CaseSource.choices, default=CaseSource.HAND)
    turn_id = models.UUIDField(null=True, blank=True)
    decision_id = models.BigIntegerField(null=True, blank=True)
    reviewer_id = models.BigIntegerField(null=True, blank=True)
    reviewer_email = models.CharField(max_length=254, blank=True, default="")
    problem_id = models.BigIntegerField(null=True, blank=True)
    problem_title = models.CharField(max_length=200, blank=True, default="")
    added_at = models.DateTimeField(default=timezone.now, help_text="When the case first entered the dataset.")
    created_at = models.DateTimeField(default=timezone.now, help_text="When this revision was written.")
    erased_at = models.DateTimeField(
        null=True, blank=True, help_text="Content erased on an end user's request (apps.datasets.services.erasure).",
    )

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            # One live revision per case, and one live case per turn in a dataset.
            models.UniqueConstraint(
                fields=["project", "dataset", "case_id"], condition=Q(removed_in__isnull=True),
                name="datasets_revision_live_case_uniq",
            ),
            models.UniqueConstraint(
                fields=["project", "dataset", "turn_id"], condition=Q(removed_in__isnull=True, turn_id__isnull=False),
                name="datasets_revision_live_turn_uniq",
            ),
            models.CheckConstraint(
                condition=Q(removed_in__isnull=True) | Q(removed_in__gt=models.F("added_in")),
                name="datasets_revision_range_check",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "dataset", "position"], name="datasets_revision_position_idx"),
            models.Index(fields=["project", "dataset", "added_in"], name="datasets_revision_added_idx"),
            models.Index(fields=["project", "dataset", "removed_in"], name="datasets_revision_removed_idx"),
            models.Index(fields=["project", "dataset", "case_id"], name="datasets_revision_case_idx"),
        ]

    def content(self) -> dict:
        return {name: getattr(self, name) for name in CASE_FIELDS}


class AutoAddRule(ProjectOwnedModel):
    """A queue's setting: every confirmed decision with a correction goes to ``dataset``, ``split``."""

    queue = models.ForeignKey("review.ReviewQueue", on_delete=models.CASCADE, related_name="+")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="auto_add_rules")
    split = models.CharField(max_length=64, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "queue"], name="datasets_autoaddrule_queue_uniq"),
        ]


class ReviewerChoice(ProjectOwnedModel):
    """The dataset a reviewer last chose on a queue's review page (offered again next time)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    queue = models.ForeignKey("review.ReviewQueue", on_delete=models.CASCADE, related_name="+")
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    split = models.CharField(max_length=64, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "user", "queue"], name="datasets_reviewerchoice_uniq"),
        ]


class ImportState(models.TextChoices):
    PREVIEW = "preview", "Waiting for confirmation"
    IMPORTED = "imported", "Imported"
    CANCELLED = "cancelled", "Cancelled"


class DatasetImport(ProjectOwnedModel):
    """An uploaded file between its preview and the user's confirmation (nothing written before)."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="imports")
    file = models.FileField(upload_to="dataset-imports/%Y/%m/", max_length=300)
    filename = models.CharField(max_length=255, blank=True, default="")
    format = models.CharField(max_length=8)
    state = models.CharField(max_length=10, choices=ImportState.choices, default=ImportState.PREVIEW)
    rows_total = models.PositiveIntegerField(default=0)
    rows_valid = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{line, field, reason}], the first 500.")
    errors_count = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)


class ExportState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class DatasetExport(ProjectOwnedModel):
    """A long export written to a file by the worker; the page polls ``rows_done / rows_total``."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="exports")
    version = models.PositiveIntegerField()
    format = models.CharField(max_length=8)
    state = models.CharField(max_length=8, choices=ExportState.choices, default=ExportState.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="dataset-exports/%Y/%m/", max_length=300, blank=True)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
