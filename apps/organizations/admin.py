from django.contrib import admin

from apps.core.admin import TenantAdmin
from apps.organizations.models import Invitation, Membership, Organization, OrganizationToken


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "retention_days", "created_at"]
    search_fields = ["name", "slug"]


@admin.register(Membership)
class MembershipAdmin(TenantAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role"]
    raw_id_fields = ["user", "organization"]


@admin.register(Invitation)
class InvitationAdmin(TenantAdmin):
    list_display = ["email", "organization", "role", "created_at", "expires_at", "accepted_at", "revoked_at"]
    exclude = ["token_hash"]
    raw_id_fields = ["organization", "invited_by", "accepted_by"]


@admin.register(OrganizationToken)
class OrganizationTokenAdmin(TenantAdmin):
    list_display = ["name", "token_id", "organization", "scopes", "created_at", "last_used_at", "revoked_at"]
    exclude = ["secret_hash"]
    raw_id_fields = ["organization", "membership", "created_by", "revoked_by"]
