from rest_framework import serializers

from apps.core.roles import Role
from apps.organizations.models import RETENTION_DAYS_MAX, RETENTION_DAYS_MIN


class OrganizationOut(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    retention_days = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class OrganizationUpdateIn(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    retention_days = serializers.IntegerField(min_value=RETENTION_DAYS_MIN, max_value=RETENTION_DAYS_MAX, required=False)


class MembershipOut(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.name")
    role = serializers.CharField()
    created_at = serializers.DateTimeField()


class MembershipUpdateIn(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationOut(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.CharField()
    status = serializers.SerializerMethodField()
    invited_by = serializers.EmailField(source="invited_by.email", default=None, allow_null=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()

    def get_status(self, invitation) -> str:
        from django.utils import timezone

        return invitation.status_at(timezone.now())


class InvitationCreateIn(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)


class InvitationCreatedOut(InvitationOut):
    accept_url = serializers.CharField()
