from rest_framework import serializers

from apps.core.fields import StrictCharField
from apps.core.redaction import KINDS, MAX_PATTERNS
from apps.projects.models import PlaceholderStyle


class ProjectOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    is_restricted = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class ProjectIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class ProjectAccessIn(serializers.Serializer):
    is_restricted = serializers.BooleanField()
    member_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=10000, default=list)


class ApiKeyOut(serializers.Serializer):
    key_id = serializers.CharField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    is_active = serializers.BooleanField()
    created_by = serializers.EmailField(source="created_by.email", default=None, allow_null=True)
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class ApiKeyIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class ApiKeyCreatedOut(ApiKeyOut):
    secret = serializers.CharField(help_text="The full secret key. Shown once; store it now.")


class AuthCheckOut(serializers.Serializer):
    organization = serializers.CharField()
    project = serializers.UUIDField()
    project_name = serializers.CharField()
    key_id = serializers.CharField()


class RedactionPatternSerializer(serializers.Serializer):
    name = StrictCharField(max_length=32)
    regex = StrictCharField(max_length=500, trim_whitespace=False)


class RedactionSettingsIn(serializers.Serializer):
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=list(KINDS)), max_length=len(KINDS), default=list)
    placeholder_style = serializers.ChoiceField(choices=PlaceholderStyle.choices, default=PlaceholderStyle.PLAIN)
    patterns = serializers.ListField(child=RedactionPatternSerializer(), max_length=MAX_PATTERNS, default=list)


class RedactionSettingsOut(serializers.Serializer):
    kinds = serializers.ListField(child=serializers.CharField())
    placeholder_style = serializers.CharField()
    patterns = RedactionPatternSerializer(many=True)
    version = serializers.IntegerField(help_text="0 until the settings are first saved.")


class RedactionTestIn(RedactionSettingsIn):
    text = StrictCharField(max_length=10_000, allow_blank=True, trim_whitespace=False)


class RedactionTestOut(serializers.Serializer):
    text = serializers.CharField()
    redactions = serializers.DictField(child=serializers.IntegerField())
