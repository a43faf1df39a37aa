from rest_framework import serializers

from apps.core.fields import StrictCharField
from apps.problems.selectors import STATUS_FILTERS


class FactorsOut(serializers.Serializer):
    users = serializers.IntegerField(source="user_count", help_text="U: distinct affected end users")
    turns = serializers.IntegerField(source="turn_count", help_text="T: turns in the problem")
    severity = serializers.FloatField(help_text="S: mean severity 1–5")
    recency = serializers.FloatField(help_text="R: ½^(days since the last turn ÷ 7)")
    trend = serializers.FloatField(help_text="G: (last 7 days + 1) ÷ (previous 7 days + 1), within ½…2")
    last_7d = serializers.IntegerField(source="count_last_7d")
    previous_7d = serializers.IntegerField(source="count_prev_7d")


class ProblemOut(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.CharField()
    category = serializers.CharField(help_text="Failure category from review decisions (grouping key)")
    failed_tool = serializers.CharField(source="key_tool", help_text="The tool whose failure groups these turns")
    prompt_version = serializers.CharField(help_text="The most frequent prompt version")
    pain = serializers.FloatField(help_text="pain = (U + ¼·T) × S × R × G")
    factors = FactorsOut(source="*")
    cause = serializers.CharField(help_text="The proposed (or confirmed) likely cause")
    cause_state = serializers.CharField()
    first_seen = serializers.DateTimeField(allow_null=True)
    last_seen = serializers.DateTimeField(allow_null=True)
    regressed_at = serializers.DateTimeField(allow_null=True, help_text="New failures arrived after it was fixed")
    merged_into = serializers.IntegerField(source="merged_into_id", allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ProblemDetailOut(ProblemOut):
    representative_input = serializers.CharField()
    evidence = serializers.JSONField(help_text="Findings: share in the problem, share in the baseline, lift")
    rejected_causes = serializers.ListField(child=serializers.CharField())
    turn_ids = serializers.ListField(child=serializers.UUIDField(), help_text="Member turns, newest first (at most 1000)")
    turn_ids_truncated = serializers.BooleanField()


class ProblemListFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=list(STATUS_FILTERS), required=False, default="unresolved")
    include_empty = serializers.BooleanField(required=False, default=False)


class ProblemPatchIn(serializers.Serializer):
    title = StrictCharField(required=False, allow_blank=True, trim_whitespace=False)
    status = StrictCharField(required=False, help_text="open, confirmed, fixing, fixed or wont_fix")


class ProblemMergeIn(serializers.Serializer):
    into = serializers.IntegerField(help_text="The problem that absorbs this one")


class ProblemSplitIn(serializers.Serializer):
    turn_ids = serializers.ListField(child=serializers.CharField(), help_text="Member turns to move to a new problem")
    title = serializers.CharField(required=False, allow_blank=True, default="")


class ProblemCauseIn(serializers.Serializer):
    verdict = serializers.CharField(help_text="'confirm' or 'reject'")
