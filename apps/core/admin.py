from django.contrib import admin


class TenantAdmin(admin.ModelAdmin):
    """Django admin is staff-only and cross-tenant by nature: it reads through ``all_tenants``."""

    def get_queryset(self, request):
        return self.model.all_tenants.get_queryset()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if hasattr(related, "all_tenants"):
            kwargs.setdefault("queryset", related.all_tenants.all())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyTenantAdmin(TenantAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
