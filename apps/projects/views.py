import logging
import secrets

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView
from django.views.generic.base import TemplateResponseMixin

from apps.core.errors import ServiceError
from apps.core.permissions import object_permission_user_ids
from apps.core.roles import Role
from apps.core.views import service_error_to_form
from apps.core.audit import Actor
from apps.organizations.selectors import membership_list
from apps.organizations.tenancy import OrganizationViewMixin
from apps.projects import selectors, services
from apps.core.redaction import KIND_LABELS
from apps.projects.forms import ApiKeyForm, ProjectAccessForm, ProjectForm, RedactionForm
from apps.projects.models import ACCESS_PERMISSION, PlaceholderStyle
from apps.projects.redaction import (
    redaction_settings_as_dict,
    redaction_settings_get,
    redaction_settings_save,
    redaction_test,
)
from apps.projects.tenancy import ProjectViewMixin

logger = logging.getLogger(__name__)


class OrganizationDetailView(OrganizationViewMixin, TemplateView):
    """The organization's home: its projects, and a form to add one (admins)."""

    template_name = "organizations/organization_detail.html"
    required_role = {"GET": Role.MEMBER}

    def get_context_data(self, **kwargs):
        kwargs.setdefault("form", ProjectForm())
        context = super().get_context_data(**kwargs)
        context["projects"] = selectors.project_list_visible(organization=self.organization, membership=self.membership)
        return context


class ProjectCreateView(OrganizationViewMixin, View):
    required_role = {"POST": Role.ADMIN}

    def post(self, request, org):
        form = ProjectForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                project = services.project_create(
                    organization=self.organization, name=form.cleaned_data["name"], actor=Actor.from_request(request)
                )
            except ServiceError as error:
                service_error_to_form(form, error)
                status = error.status
            else:
                messages.success(request, f"Created project {project.name}. Create an API key to start sending turns.")
                return redirect("project_keys", org=org, project=project.pk)
        view = OrganizationDetailView(request=request, kwargs=self.kwargs, args=())
        view.organization, view.membership = self.organization, self.membership
        return view.render_to_response(view.get_context_data(form=form), status=status)


class ProjectDetailView(ProjectViewMixin, TemplateView):
    template_name = "projects/project_detail.html"
    required_role = {"GET": Role.MEMBER}


class ProjectSettingsView(ProjectViewMixin, TemplateView):
    template_name = "projects/settings.html"
    required_role = {"GET": Role.ADMIN, "POST": Role.ADMIN}

    def get_context_data(self, **kwargs):
        kwargs.setdefault("form", ProjectForm(initial={"name": self.project.name}))
        return super().get_context_data(**kwargs)

    def post(self, request, org, project):
        form = ProjectForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                services.project_rename(project=self.project, name=form.cleaned_data["name"], actor=Actor.from_request(request))
            except ServiceError as error:
                service_error_to_form(form, error)
                status = error.status
            else:
                messages.success(request, "Project renamed.")
                return redirect("project_settings", org=org, project=project)
        return self.render_to_response(self.get_context_data(form=form), status=status)


class ProjectDeleteView(ProjectViewMixin, TemplateView):
    template_name = "projects/delete.html"
    required_role = {"GET": Role.ADMIN, "POST": Role.ADMIN}

    def post(self, request, org, project):
        if request.POST.get("confirm_name", "").strip() != self.project.name:
            return self.render_to_response(
                self.get_context_data(error="Type the project's exact name to confirm."), status=400
            )
        services.project_delete(project=self.project, actor=Actor.from_request(request))
        messages.success(request, f"Deleted project {self.project.name}.")
        return redirect("organization_detail", org=org)


class ProjectAccessView(ProjectViewMixin, TemplateView):
    template_name = "projects/access.html"
    required_role = {"GET": Role.ADMIN, "POST": Role.ADMIN}

    def _form(self, data=None):
        memberships = list(membership_list(organization=self.organization))
        granted = object_permission_user_ids(permission=ACCESS_PERMISSION, obj=self.project)
        initial = {
            "is_restricted": self.project.is_restricted,
            "member_ids": [m.pk for m in memberships if m.user_id in granted],
        }
        return ProjectAccessForm(data, memberships=memberships, initial=initial)

    def get_context_data(self, **kwargs):
        kwargs.setdefault("form", self._form())
        return super().get_context_data(**kwargs)

    def post(self, request, org, project):
        form = self._form(request.POST)
        if form.is_valid():
            try:
                services.project_set_access(
                    project=self.project, actor=Actor.from_request(request), **form.cleaned_data
                )
            except ServiceError as error:
                service_error_to_form(form, error)
            else:
                messages.success(request, "Access saved.")
                return redirect("project_access", org=org, project=project)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class ApiKeysPageMixin(TemplateResponseMixin):
    """The API keys page; a refused revocation re-renders it."""

    template_name = "projects/keys.html"

    def get_context_data(self, **kwargs):
        kwargs.setdefault("form", ApiKeyForm())
        context = super().get_context_data(**kwargs)
        context["api_keys"] = selectors.api_key_list(project=self.project)
        return context


class ApiKeyListView(ApiKeysPageMixin, ProjectViewMixin, TemplateView):
    """Create-then-redirect (POST/303/GET) so a reload never creates a second key.

    The new secret crosses the redirect through the cache for two minutes, keyed by a random
    nonce bound to the session, and is deleted the first time the page shows it.
    """

    required_role = {"GET": Role.ADMIN, "POST": Role.ADMIN}
    secret_ttl_seconds = 120

    def _cache_key(self, nonce: str) -> str:
        return f"agentloop:new-key:{self.request.session.session_key}:{self.project.pk}:{nonce}"

    def get(self, request, org, project):
        nonce = request.GET.get("created", "")
        shown = self._take_shown(nonce) if nonce and request.session.session_key else None
        if shown is None:
            return self.render_to_response(self.get_context_data())
        new_key = selectors.api_key_get(project=self.project, key_id=shown["key_id"])
        return self._show_secret(new_key, shown["secret"])

    def _take_shown(self, nonce: str) -> dict | None:
        """The new key parked for this page, removed as it is read; None when Redis cannot say."""
        try:
            shown = cache.get(self._cache_key(nonce))
            if shown is not None:
                cache.delete(self._cache_key(nonce))
        except Exception:  # noqa: BLE001 - the cache is Redis; a dead one only means nothing to show
            logger.warning("new API key page: cache unavailable", exc_info=True)
            return None
        return shown

    def _show_secret(self, api_key, secret: str, status: int = 200):
        response = self.render_to_response(self.get_context_data(new_key=api_key, new_secret=secret), status=status)
        response["Cache-Control"] = "no-store"
        return response

    def post(self, request, org, project):
        form = ApiKeyForm(request.POST)
        if form.is_valid():
            try:
                api_key, secret = services.api_key_create(
                    project=self.project, name=form.cleaned_data["name"], actor=Actor.from_request(request)
                )
            except ServiceError as error:
                service_error_to_form(form, error)
            else:
                if not request.session.session_key:
                    request.session.save()
                nonce = secrets.token_urlsafe(16)
                try:
                    cache.set(self._cache_key(nonce), {"key_id": api_key.key_id, "secret": secret}, self.secret_ttl_seconds)
                except Exception:  # noqa: BLE001 - Redis is down: show the secret now rather than lose it
                    logger.warning("new API key page: cache unavailable; showing the secret in the answer", exc_info=True)
                    return self._show_secret(api_key, secret, status=201)
                url = reverse("project_keys", kwargs={"org": org, "project": project})
                return HttpResponseRedirect(f"{url}?created={nonce}", status=303)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class ApiKeyRevokeView(ApiKeysPageMixin, ProjectViewMixin, View):
    required_role = {"POST": Role.ADMIN}

    def resolve_tenant(self, request, **kwargs) -> None:
        super().resolve_tenant(request, **kwargs)
        self.api_key = selectors.api_key_get(project=self.project, key_id=kwargs["key_id"])

    def post(self, request, org, project, key_id):
        api_key = self.api_key
        try:
            services.api_key_revoke(api_key=api_key, actor=Actor.from_request(request))
        except ServiceError as error:
            messages.error(request, error.message)
            return self.render_to_response(self.get_context_data(), status=error.status)
        messages.success(request, f"Revoked {api_key.name}. It stopped working immediately.")
        return redirect("project_keys", org=org, project=project)


class RedactionSettingsView(ProjectViewMixin, TemplateView):
    """PII redaction at ingestion (admins): what to redact, and a "test your settings" box that
    runs the form's settings, saved or not, on a pasted text without storing anything."""

    template_name = "projects/redaction.html"
    required_role = {"GET": Role.ADMIN, "POST": Role.ADMIN}

    def _form(self, data=None):
        saved = redaction_settings_as_dict(redaction_settings_get(project=self.project))
        initial = {**saved, "patterns": RedactionForm.patterns_as_text(saved["patterns"])}
        return RedactionForm(data, initial=initial, kind_choices=list(KIND_LABELS.items()),
                             style_choices=PlaceholderStyle.choices)

    def get_context_data(self, **kwargs):
        kwargs.setdefault("form", self._form())
        return super().get_context_data(**kwargs)

    def post(self, request, org, project):
        form = self._form(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        values = {key: form.cleaned_data[key] for key in ("kinds", "placeholder_style", "patterns")}
        try:
            if request.POST.get("action") == "test":
                result, counts = redaction_test(project=self.project, text=form.cleaned_data["sample"], **values)
                return self.render_to_response(self.get_context_data(form=form, result=result, counts=counts))
            redaction_settings_save(project=self.project, actor=Actor.from_request(request), **values)
        except ServiceError as error:
            field = error.field.split("[")[0] if error.field else None
            form.add_error(field if field in form.fields else None, error.message)
            return self.render_to_response(self.get_context_data(form=form), status=error.status)
        messages.success(request, "Redaction settings saved; they apply to the next turn received.")
        return redirect("project_redaction", org=org, project=project)
