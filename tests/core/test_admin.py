"""The Django admin is cross-tenant: its pages read through ``all_tenants`` and never 500."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse

from apps.core.admin import TenantAdmin
from tests.conftest import client_for
from tests.factories.projects import ApiKeyFactory


def test_every_tenant_change_page_with_raw_id_fields_renders(project, admin_user):
    # Given an API key (its admin shows project, created_by and revoked_by as raw ids)
    key = ApiKeyFactory(project=project, name="ci")
    raw_id_admins = [
        (model, model_admin) for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, TenantAdmin) and model_admin.raw_id_fields
    ]

    # When a superuser opens its change page and the project's
    page = client_for(admin_user).get(reverse("admin:projects_apikey_change", args=[key.pk]))
    project_page = client_for(admin_user).get(reverse("admin:projects_project_change", args=[project.pk]))

    # Then both render, with the related project labelled by name
    assert (page.status_code, project_page.status_code) == (200, 200)
    assert "Support agent" in page.content.decode()
    assert {model.__name__ for model, _ in raw_id_admins} >= {"ApiKey", "Project"}
