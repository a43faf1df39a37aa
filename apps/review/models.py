"""Review queues: where flagged turns wait for a human verdict.

Items refer to their turn by ``(project, turn_id)`` like every other turn child (no FK: the
turn may expire with retention while its decisions stay). A queue is worked by reviewers who
hold ``review.work_reviewqueue`` on it (django-guardian, direct foreign-key rows).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from apps.core.models import ProjectOwnedModel

WORK_PERMISSION = "review.work_reviewqueue"
MAX_REVIEWERS_PER_ITEM = 5
DEFAULT_TAXONOMY = [
    {"name": "hallucination", "description": "States facts or policies that are not true or not in its sources."},
    {"name": "retrieval miss", "description": "The right document existed but was not retrieved or not used."},
    {"name": "tool misuse", "description": "Called the wrong tool, with wrong arguments, or ignored its result."},
    {"name": "policy", "description": "Broke a business, safety or compliance rule."},
    {"name": "tone", "description": "Right content, wrong manner: curt, rude, verbose or off-brand."},
    {"name": "other", "description": "Anything else; say what in the notes."},
]
DEFAULT_CATEGORIES = [category["name"] for category in DEFAULT_TAXONOMY]
DEFAULT_QUEUE_NAME = "Catch-all"


class FailureTaxonomy(ProjectOwnedModel):
    """The project's failure categories, ``[{"name", "description"}, …]`` in display order.

    One row per project, written whole (the edit page and ``PUT …/taxonomy`` replace the list);
    a project without a row uses ``DEFAULT_TAXONOMY``. Decisions copy the category name, so
    renaming or removing a category never rewrites past decisions.
    """

    categories = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project"], name="review_failuretaxonomy_project_uniq"),
        ]


class ReviewQueue(ProjectOwnedModel):
    """A named queue with routing rules.

    ``routing`` is ``{"signal_kinds": [...], "any_turn": bool, "priority": int, "sample_percent":
    0..100}``: a turn carrying any of those signal kinds (explicit, e.g. ``thumbs_down``, or a
    detector's kind, e.g. ``rephrase``) — or any turn at all with ``any_turn`` — is routed here
    with that priority, keeping ``sample_percent`` of them (chosen deterministically from the
    turn id, so routing twice picks the same turns).

    ``is_default``: the project's catch-all (one per project; a new project gets one). A turn
    logged with no signal at all lands here (sampled the same way): an SDK that calls
    ``log_turn_if(condition, …)`` has already decided the turn is worth a look.
    """

    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    lease_seconds = models.PositiveIntegerField(default=600)
    routing = models.JSONField(default=dict, blank=True)
    escalate_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Second-level queue that receives escalated items.",
    )
    reviewers_per_item = models.PositiveSmallIntegerField(
        default=1, help_text="Distinct reviewers who decide each item before its outcome is final (1–5).",
    )
    blind = models.BooleanField(default=False, help_text="Reviewers do not see earlier verdicts on the item.")
    is_default = models.BooleanField(
        default=False, help_text="The project's catch-all: turns logged with no signal at all land here.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(ProjectOwnedModel.Meta):
        permissions = [("work_reviewqueue", "Can work a review queue")]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="review_reviewqueue_name_uniq"),
            models.UniqueConstraint(
                fields=["project"], condition=Q(is_default=True), name="review_reviewqueue_default_uniq",
            ),
            models.CheckConstraint(
                condition=Q(reviewers_per_item__gte=1, reviewers_per_item__lte=MAX_REVIEWERS_PER_ITEM),
                name="review_reviewqueue_reviewers_range_check",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def signal_kinds(self) -> list[str]:
        return list(self.routing.get("signal_kinds") or [])

    @property
    def any_turn(self) -> bool:
        return bool(self.routing.get("any_turn"))

    @property
    def routes(self) -> bool:
        """Whether routing can put anything here."""
        return bool(self.signal_kinds or self.any_turn or self.is_default)

    @property
    def priority(self) -> int:
        return int(self.routing.get("priority") or 0)

    @property
    def sample_percent(self) -> int:
        value = self.routing.get("sample_percent")
        return 100 if value is None else int(value)

    @property
    def organization_id(self):
        """For apps.core.permissions' same-tenant check."""
        return self.project.organization_id


class ReviewQueueUserObjectPermission(UserObjectPermissionBase):
    """django-guardian direct foreign-key permission rows for queues (no generic FK scans)."""

    content_object = models.ForeignKey(ReviewQueue, on_delete=models.CASCADE)


class ReviewQueueGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(ReviewQueue, on_delete=models.CASCADE)


class ItemState(models.TextChoices):
    PENDING = "pending", "Pending"
    CLAIMED = "claimed", "Claimed"
    CONFIRMED = "confirmed", "Confirmed"
    REJECTED = "rejected", "Rejected"
    ESCALATED = "escalated", "Escalated"
    SKIPPED = "skipped", "Skipped"
    DISPUTED = "disputed", "Disputed (needs an admin)"


OPEN_STATES = (ItemState.PENDING, ItemState.CLAIMED)


class ReviewItem(ProjectOwnedModel):
    """Claiming rewrites an item's row twice (claim, decision), and an update that changes an
    indexed column writes a new entry into every index of the table: so this table keeps only
    the indexes its queries use (no separate foreign-key indexes for project, claimer and
    assignee; the unique key leads with ``(project, turn_id)`` and serves lookups by turn)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, db_index=False)
    queue = models.ForeignKey(ReviewQueue, on_delete=models.CASCADE, related_name="items")
    turn_id = models.UUIDField()
    priority = models.IntegerField(default=0)
    state = models.CharField(max_length=10, choices=ItemState.choices, default=ItemState.PENDING)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False,
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False,
    )
    note = models.TextField(blank=True, default="", help_text="Why it was escalated here.")
    # User ids of everyone who decided this item, in order. The claim skips items holding the
    # reviewer's id (``<> ALL(decided_by)``), so nobody decides the same item twice, without a
    # per-row look at the decisions table. ``db_default`` keeps raw inserts (routing, bench) valid.
    decided_by = ArrayField(
        models.BigIntegerField(), default=list, blank=True, db_default=models.Value([], ArrayField(models.BigIntegerField())),
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            # Also the index for "this turn's items" (project, turn_id prefix).
            models.UniqueConstraint(fields=["project", "turn_id", "queue"], name="review_reviewitem_turn_uniq"),
            models.CheckConstraint(
                condition=Q(state="claimed", claimed_by__isnull=False, lease_expires_at__isnull=False)
                | ~Q(state="claimed"),
                name="review_reviewitem_claim_check",
            ),
        ]
        indexes = [
            # The claim scan: open items of one queue by priority then age (partial, stays small;
            # a queue belongs to one project, so the project is not repeated in every entry).
            models.Index(
                fields=["queue", "-priority", "created_at", "id"], name="review_reviewitem_claim_idx",
                condition=Q(state__in=["pending", "claimed"]),
            ),
            # "The item I hold": one row per reviewer, found without scanning the queue.
            models.Index(
                fields=["queue", "claimed_by"], name="review_reviewitem_claimer_idx",
                condition=Q(state="claimed"),
            ),
        ]


class Verdict(models.TextChoices):
    CONFIRM = "confirm", "Confirm (a real failure)"
    REJECT = "reject", "Reject (not a failure)"
    ESCALATE = "escalate", "Escalate"
    SKIP = "skip", "Skip"


VERDICT_STATE = {
    Verdict.CONFIRM: ItemState.CONFIRMED,
    Verdict.REJECT: ItemState.REJECTED,
    Verdict.ESCALATE: ItemState.ESCALATED,
    Verdict.SKIP: ItemState.SKIPPED,
}


class Decision(ProjectOwnedModel):
    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="decisions")
    queue = models.ForeignKey(ReviewQueue, on_delete=models.CASCADE, related_name="+")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    category = models.CharField(max_length=64, blank=True, default="")
    correction = models.TextField(blank=True, default="")
    notes = models.TextField(blank=True, default="")
    seconds_spent = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(ProjectOwnedModel.Meta):
        indexes = [
            models.Index(fields=["project", "queue", "-created_at"], name="review_decision_queue_idx"),
            models.Index(fields=["project", "reviewer", "-created_at"], name="review_decision_reviewer_idx"),
        ]
