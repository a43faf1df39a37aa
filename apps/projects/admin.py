from django.contrib import admin

from apps.core.admin import TenantAdmin
from apps.projects.models import ApiKey, Project


@admin.register(Project)
class ProjectAdmin(TenantAdmin):
    list_display = ["name", "organization", "is_restricted", "created_at"]
    raw_id_fields = ["organization", "created_by"]


@admin.register(ApiKey)
class ApiKeyAdmin(TenantAdmin):
    list_display = ["name", "key_id", "project", "created_at", "last_used_at", "revoked_at"]
    exclude = ["secret_hash"]
    raw_id_fields = ["project", "created_by", "revoked_by"]
