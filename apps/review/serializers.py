"""Review API shapes. Input serializers validate types only; the services own the rules."""

from rest_framework import serializers

from apps.review.models import MAX_REVIEWERS_PER_ITEM, ItemState, Verdict


class RoutingSerializer(serializers.Serializer):
    signal_kinds = serializers.ListField(child=serializers.CharField(max_length=64), max_length=50, default=list)
    any_turn = serializers.BooleanField(default=False, help_text="Route every turn here (sampled at sample_percent).")
    priority = serializers.IntegerField(min_value=-1000, max_value=1000, default=0)
    sample_percent = serializers.IntegerField(min_value=0, max_value=100, default=100)


class ProgressOut(serializers.Serializer):
    pending = serializers.IntegerField()
    claimed = serializers.IntegerField()
    done_today = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)


class AgreementOut(serializers.Serializer):
    items = serializers.IntegerField(help_text="Items decided by two or more reviewers.")
    unanimous_percent = serializers.FloatField(allow_null=True, help_text="Share of those items where every reviewer gave the same verdict.")
    kappa = serializers.FloatField(allow_null=True, help_text="Fleiss' kappa over the verdicts (null when undefined).")


class QueueOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    lease_seconds = serializers.IntegerField()
    routing = RoutingSerializer()
    escalate_to = serializers.IntegerField(source="escalate_to_id", allow_null=True)
    reviewers_per_item = serializers.IntegerField()
    blind = serializers.BooleanField()
    is_default = serializers.BooleanField(help_text="The project's catch-all: turns logged with no signal at all land here.")
    created_at = serializers.DateTimeField()
    progress = ProgressOut()
    agreement = AgreementOut()


class QueueIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=5000, allow_blank=True, default="")
    lease_seconds = serializers.IntegerField(min_value=30, max_value=86400, default=600)
    routing = RoutingSerializer(required=False)
    escalate_to = serializers.IntegerField(min_value=1, allow_null=True, default=None, help_text="Second-level queue id.")
    reviewers_per_item = serializers.IntegerField(min_value=1, max_value=MAX_REVIEWERS_PER_ITEM, default=1)
    blind = serializers.BooleanField(default=False)


class MemberIn(serializers.Serializer):
    member = serializers.IntegerField(min_value=1, help_text="Membership id in the organization.")


class ReviewerOut(serializers.Serializer):
    member = serializers.IntegerField(source="pk")
    email = serializers.EmailField(source="user.email")
    role = serializers.CharField()


class ItemOut(serializers.Serializer):
    id = serializers.IntegerField()
    queue = serializers.IntegerField(source="queue_id")
    turn_id = serializers.UUIDField()
    priority = serializers.IntegerField()
    state = serializers.ChoiceField(choices=ItemState.choices)
    claimed_by = serializers.EmailField(source="claimed_by.email", default=None, allow_null=True)
    lease_expires_at = serializers.DateTimeField(allow_null=True)
    assigned_to = serializers.EmailField(source="assigned_to.email", default=None, allow_null=True)
    decisions = serializers.SerializerMethodField(help_text="How many reviewers decided it so far.")
    note = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_decisions(self, item) -> int:
        return len(item.decided_by)


class ItemFilter(serializers.Serializer):
    state = serializers.MultipleChoiceField(choices=ItemState.choices, required=False)


class DecisionOut(serializers.Serializer):
    id = serializers.IntegerField()
    item = serializers.IntegerField(source="item_id")
    reviewer = serializers.EmailField(source="reviewer.email", default=None, allow_null=True)
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    category = serializers.CharField()
    correction = serializers.CharField()
    notes = serializers.CharField()
    seconds_spent = serializers.FloatField(allow_null=True)
    created_at = serializers.DateTimeField()


class ClaimOut(serializers.Serializer):
    item = ItemOut()
    turn = serializers.JSONField(allow_null=True, help_text="The turn as GET /api/v1/turns/{id} returns it; null once it expired.")
    decisions = DecisionOut(many=True, allow_null=True, help_text="Earlier decisions on the item; null in a blind queue until the outcome is final.")


class DecisionIn(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    category = serializers.CharField(max_length=64, allow_blank=True, default="")
    correction = serializers.CharField(max_length=20000, allow_blank=True, default="")
    notes = serializers.CharField(max_length=5000, allow_blank=True, default="")


class DecisionResultOut(serializers.Serializer):
    decision = DecisionOut()
    item = ItemOut()


class AssignIn(serializers.Serializer):
    member = serializers.IntegerField(min_value=1, allow_null=True, help_text="Membership id of one of the queue's reviewers; null releases the item to anyone.")


class CategorySerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    description = serializers.CharField(max_length=300, allow_blank=True, default="")


class TaxonomySerializer(serializers.Serializer):
    categories = CategorySerializer(many=True)
