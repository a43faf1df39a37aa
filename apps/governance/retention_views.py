"""The retention page: the organization's retention and rejected clock, per-project overrides,
a preview of what the next expire run deletes before any change is saved, and the deletion
history (table and chart). Every change is previewed first: the form posts ``action=preview``,
the page answers with the figures and a confirm button that posts the same values with
``action=save``."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.views.generic import TemplateView

from apps.core.audit import Actor
from apps.core.errors import ServiceError
from apps.core.roles import Role
from apps.core.views import service_error_to_form
from apps.governance.expiry import expiry_preview, organization_preview, rejected_days_for
from apps.governance.integrations import retention_panel
from apps.governance.models import ProjectRetention
from apps.governance.services import project_retention_set, rejected_retention_set
from apps.organizations.models import RETENTION_DAYS_MAX, RETENTION_DAYS_MIN
from apps.organizations.services import organization_update
from apps.organizations.tenancy import OrganizationViewMixin
from apps.projects.models import Project

DAYS = {"min_value": RETENTION_DAYS_MIN, "max_value": RETENTION_DAYS_MAX}


class OrganizationRetentionForm(forms.Form):
    retention_days = forms.IntegerField(label="Keep unreviewed turns for (days)", **DAYS)
    rejected_days = forms.IntegerField(label="Keep rejected turns for (days after the decision)", **DAYS)


class ProjectRetentionForm(forms.Form):
    project = forms.ChoiceField()
    days = forms.IntegerField(required=False, label="Override (days; empty: the organization's)", **DAYS)

    def __init__(self, *args, projects=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [(str(p.pk), p.name) for p in projects]


class RetentionView(OrganizationViewMixin, TemplateView):
    template_name = "governance/retention.html"
    required_role = {"GET": Role.ADMIN, "POST": Role.ADMIN}

    def projects(self):
        return list(Project.objects.for_org(self.organization).order_by("name"))

    def get_context_data(self, **kwargs):
        organization = self.organization
        kwargs.setdefault("org_form", OrganizationRetentionForm(initial={
            "retention_days": organization.retention_days, "rejected_days": rejected_days_for(organization=organization),
        }))
        kwargs.setdefault("project_form", ProjectRetentionForm(projects=self.projects()))
        context = super().get_context_data(**kwargs)
        context.update(retention_panel(organization=organization))
        context["overrides"] = {
            row.project_id: row.days
            for row in ProjectRetention.all_tenants.filter(project__organization=organization)  # unscoped: one organization's projects, by its FK
        }
        return context

    def post(self, request, org):
        saving = request.POST.get("action") == "save"
        if request.POST.get("form") == "project":
            return self._project(request, saving)
        form = OrganizationRetentionForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(org_form=form), status=400)
        days, rejected = form.cleaned_data["retention_days"], form.cleaned_data["rejected_days"]
        if not saving:
            proposed = organization_preview(organization=self.organization, retention_days=days, rejected_days=rejected)
            return self.render_to_response(self.get_context_data(org_form=form, proposed=proposed, proposed_form="org"))
        actor = Actor.from_request(request)
        try:
            organization_update(organization=self.organization, actor=actor, retention_days=days)
            rejected_retention_set(organization=self.organization, actor=actor, days=rejected)
        except ServiceError as error:
            service_error_to_form(form, error)
            return self.render_to_response(self.get_context_data(org_form=form), status=400)
        messages.success(request, "Retention saved.")
        return redirect("retention", org=org)

    def _project(self, request, saving: bool):
        projects = self.projects()
        form = ProjectRetentionForm(request.POST, projects=projects)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(project_form=form), status=400)
        project = next(p for p in projects if str(p.pk) == form.cleaned_data["project"])
        days = form.cleaned_data["days"]
        if not saving:
            proposed = [expiry_preview(project=project, days=days or self.organization.retention_days)]
            return self.render_to_response(self.get_context_data(project_form=form, proposed=proposed, proposed_form="project"))
        try:
            project_retention_set(project=project, actor=Actor.from_request(request), days=days)
        except ServiceError as error:
            service_error_to_form(form, error)
            return self.render_to_response(self.get_context_data(project_form=form), status=400)
        messages.success(request, f"Retention of {project.name} saved.")
        return redirect("retention", org=self.organization.slug)
