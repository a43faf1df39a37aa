"""Input shapes (checked again, with stable codes, by apps.experiments.validation) and the output
of the prompt routes. No lookups or writes here."""

from __future__ import annotations

from rest_framework import serializers

from apps.experiments.selectors.prompts import prompt_version_reference


class _Text(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(required=False, allow_blank=True, trim_whitespace=False, **kwargs)


class VersionIn(serializers.Serializer):
    template = serializers.CharField(allow_blank=True, trim_whitespace=False, help_text="Text with {{variables}}")
    tools = serializers.JSONField(required=False, help_text="Tool definitions; each `parameters` a JSON Schema")
    settings = serializers.JSONField(required=False, help_text="model, temperature, max_tokens, any JSON")
    message = _Text(help_text="Commit message")
    description = _Text(help_text="The prompt's description (kept if omitted)")


class PromptCreateIn(VersionIn):
    name = serializers.CharField(help_text="Letters, digits, '.', '_', '-'; unique in the project")


class LabelMoveIn(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=2_147_483_647)


class ProtectionIn(serializers.Serializer):
    protected = serializers.BooleanField()


class DiffQuery(serializers.Serializer):
    from_ = serializers.IntegerField(min_value=1, max_value=2_147_483_647, required=False)
    to = serializers.IntegerField(min_value=1, max_value=2_147_483_647, required=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class LabelOut(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.IntegerField(source="version.number")
    protected = serializers.BooleanField()
    moved_at = serializers.DateTimeField()


class PromptOut(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    latest_version = serializers.IntegerField()
    labels = LabelOut(many=True, source="labels.all")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class VersionOut(serializers.Serializer):
    version = serializers.IntegerField(source="number")
    prompt_version = serializers.SerializerMethodField(help_text="What turns send as prompt_version: <name>@<n>")
    template = serializers.CharField()
    variables = serializers.ListField(child=serializers.CharField())
    tools = serializers.JSONField()
    settings = serializers.JSONField()
    message = serializers.CharField()
    author = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_prompt_version(self, version) -> str:
        return prompt_version_reference(version.prompt.name, version.number)


class VersionCreatedOut(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.IntegerField()


class MoveOut(serializers.Serializer):
    label = serializers.CharField(source="label.name")
    kind = serializers.CharField()
    from_version = serializers.IntegerField(source="from_version.number", allow_null=True, default=None)
    to_version = serializers.IntegerField(source="to_version.number")
    actor = serializers.CharField()
    moved_at = serializers.DateTimeField()


class LabelDetailOut(LabelOut):
    history = MoveOut(many=True)
    rollback_to = serializers.IntegerField(allow_null=True, help_text="Where a rollback takes the label")


class LabelMovedOut(serializers.Serializer):
    name = serializers.CharField(help_text="The prompt")
    label = serializers.CharField()
    version = serializers.IntegerField()
    previous_version = serializers.IntegerField(allow_null=True)
    protected = serializers.BooleanField()
    kind = serializers.CharField(allow_null=True, help_text="create, deploy, rollback; null when nothing moved")


class DiffSectionOut(serializers.Serializer):
    name = serializers.CharField()
    changed = serializers.BooleanField()
    unified = serializers.ListField(child=serializers.CharField(allow_blank=True), help_text="Unified diff lines")


class DiffOut(serializers.Serializer):
    name = serializers.CharField()
    from_version = serializers.IntegerField()
    to_version = serializers.IntegerField()
    sections = DiffSectionOut(many=True)


class SignalRateOut(serializers.Serializer):
    turns = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)


class TrafficOut(serializers.Serializer):
    version = serializers.IntegerField()
    prompt_version = serializers.CharField()
    since = serializers.DateTimeField()
    since_label = serializers.CharField(allow_null=True)
    turns = serializers.IntegerField()
    signals = serializers.DictField(child=SignalRateOut())
    confirmed_failures = serializers.IntegerField()
    confirmed_failure_rate = serializers.FloatField(allow_null=True)


class TrafficComparedOut(serializers.Serializer):
    current = TrafficOut()
    previous = TrafficOut(allow_null=True)


class ResolvedOut(serializers.Serializer):
    """What ``GET /api/v1/prompts/{name}`` answers (with a strong ETag)."""

    name = serializers.CharField()
    version = serializers.IntegerField()
    labels = serializers.ListField(child=serializers.CharField())
    template = serializers.CharField()
    variables = serializers.ListField(child=serializers.CharField())
    tools = serializers.JSONField()
    settings = serializers.JSONField()
    message = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
