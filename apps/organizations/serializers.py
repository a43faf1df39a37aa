from rest_framework import serializers

from apps.core.roles import Role
from apps.organizations.models import RETENTION_DAYS_MAX, RETENTION_DAYS_MIN, TokenScope


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


class OrgTokenOut(serializers.Serializer):
    token_id = serializers.CharField(help_text="The public id: `al_ot_<token_id>_…`")
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The token's first characters, for recognition")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=TokenScope.choices))
    owner = serializers.EmailField(
        source="created_by.email", default=None, allow_null=True,
        help_text="The member the token acts as (who created it)",
    )
    is_active = serializers.BooleanField(help_text="Not revoked and its member still belongs to the organization")
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="Updated at most once a minute")
    revoked_at = serializers.DateTimeField(allow_null=True)


class OrgTokenIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=TokenScope.choices), min_length=1, max_length=len(TokenScope.values),
        help_text="read: every GET; review: claim and decide in the queues the member works; datasets: write "
        "dataset cases and prompt versions; admin: everything the member's role allows. Every scope "
        "includes read. The token never does more than its member's current role.",
    )


class OrgTokenCreatedOut(OrgTokenOut):
    token = serializers.CharField(help_text="The full secret `al_ot_<token_id>_<secret>`: shown only in this response")
