"""Input shapes (checked again, with stable codes, by apps.experiments.validation) and the output
of the prompt routes. No lookups or writes here."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.fields import StrictCharField
from apps.experiments.models import NAME_PATTERN
from apps.experiments.selectors.prompts import prompt_version_reference
from apps.experiments.validation import MAX_DESCRIPTION_CHARS, MAX_MESSAGE_CHARS, MAX_TEMPLATE_CHARS


_StrictText = StrictCharField


def _text(max_length: int, **kwargs) -> _StrictText:
    return _StrictText(required=False, allow_blank=True, trim_whitespace=False, max_length=max_length, **kwargs)


@extend_schema_field({"type": "array", "maxItems": 128, "items": {"type": "object"}})
class _ToolsField(serializers.JSONField):
    """Any JSON here; apps.experiments.validation refuses what is not tools with `invalid_tools`."""


@extend_schema_field({"type": "object"})
class _SettingsField(serializers.JSONField):
    """Any JSON here; apps.experiments.validation refuses what is not settings with `invalid_settings`."""


TOOLS_HELP = (
    "Tool definitions: `{\"type\": \"function\", \"function\": {\"name\", \"description\", \"parameters\"}}` or "
    "`{\"name\", \"description\", \"parameters\"}`; names unique (1–64 of A-Z a-z 0-9 _ . -); `parameters` a valid "
    "JSON Schema (checked against its metaschema). Otherwise 400 `invalid_tools` with the field at fault."
)
SETTINGS_HELP = (
    "Model settings, any JSON object; `model` is text, `temperature` 0–2, `top_p` 0–1, `max_tokens` a whole number "
    "1–10,000,000, `frequency_penalty`/`presence_penalty` −2–2 (otherwise 400 `invalid_settings`)."
)


class VersionIn(serializers.Serializer):
    template = _StrictText(max_length=MAX_TEMPLATE_CHARS, allow_blank=True, trim_whitespace=False,
                           help_text="Text with {{variables}}; not empty (`invalid_template`)")
    tools = _ToolsField(required=False, help_text=TOOLS_HELP)
    settings = _SettingsField(required=False, help_text=SETTINGS_HELP)
    message = _text(MAX_MESSAGE_CHARS, help_text="Commit message")
    description = _text(MAX_DESCRIPTION_CHARS, help_text="The prompt's description (kept if omitted)")


class PromptCreateIn(VersionIn):
    name = serializers.RegexField(rf"^{NAME_PATTERN}$", max_length=100, help_text="Letters, digits, '.', '_', '-'; unique in the project")


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
