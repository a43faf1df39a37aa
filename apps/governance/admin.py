from django.contrib import admin

from apps.core.admin import ReadOnlyTenantAdmin
from apps.governance.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyTenantAdmin):
    list_display = ["created_at", "organization", "actor_email", "action", "target_type", "target_label"]
    list_filter = ["action"]
