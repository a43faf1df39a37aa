from django.contrib import admin
from django.contrib.admin.templatetags.admin_urls import admin_urlname
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import ValidationError
from django.urls import NoReverseMatch, reverse
from django.utils.text import Truncator


class TenantRawIdWidget(ForeignKeyRawIdWidget):
    """The raw-id widget, labelling its value through ``all_tenants``: Django's own looks it up
    with the default manager, which refuses an unscoped query (and the admin is cross-tenant)."""

    def label_and_url_for_value(self, value):
        model = self.rel.model
        if not hasattr(model, "all_tenants"):
            return super().label_and_url_for_value(value)
        try:
            obj = model.all_tenants.using(self.db).get(**{self.rel.get_related_field().name: value})
        except (ValueError, model.DoesNotExist, ValidationError):
            return "", ""
        try:
            url = reverse(f"{self.admin_site.name}:{admin_urlname(obj._meta, 'change')}", args=(obj.pk,))
        except NoReverseMatch:
            url = ""  # the related model has no admin
        return Truncator(obj).words(14), url


class TenantAdmin(admin.ModelAdmin):
    """Django admin is staff-only and cross-tenant by nature: it reads through ``all_tenants``."""

    def get_queryset(self, request):
        return self.model.all_tenants.get_queryset()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if hasattr(related, "all_tenants"):
            kwargs.setdefault("queryset", related.all_tenants.all())
            if db_field.name in self.raw_id_fields:
                kwargs.setdefault("widget", TenantRawIdWidget(db_field.remote_field, self.admin_site, using=kwargs.get("using")))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyTenantAdmin(TenantAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
