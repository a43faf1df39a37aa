from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers

from apps.organizations.tenancy import OrganizationScopedViewSet
from apps.core.roles import Role
from apps.core.audit import AuditAction
from apps.governance.models import AuditEvent
from apps.governance.selectors import audit_event_list


class AuditEventOut(serializers.Serializer):
    id = serializers.IntegerField()
    actor = serializers.CharField(source="actor_email")
    action = serializers.CharField()
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    target_label = serializers.CharField()
    before = serializers.JSONField()
    after = serializers.JSONField()
    ip_address = serializers.CharField(allow_null=True)
    via = serializers.CharField(help_text="`token:<token_id>` when an organization token acted as the actor; empty for a session")
    created_at = serializers.DateTimeField()


class AuditEventFilter(serializers.Serializer):
    actor = serializers.IntegerField(required=False, min_value=1)
    action = serializers.ChoiceField(choices=AuditAction.choices, required=False)


class AuditEventViewSet(mixins.ListModelMixin, OrganizationScopedViewSet):
    """The organization's append-only audit log, newest first."""

    model = AuditEvent
    serializer_class = AuditEventOut
    required_role = {"list": Role.ADMIN}

    def base_queryset(self):
        filters = AuditEventFilter(data=self.request.query_params.dict())  # a blank value is a value (400), not "absent"
        filters.is_valid(raise_exception=True)
        return audit_event_list(
            organization=self.organization,
            actor_id=filters.validated_data.get("actor"),
            action=filters.validated_data.get("action"),
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("actor", int, description="User id of the actor"),
            OpenApiParameter("action", str, enum=AuditAction.values),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)
