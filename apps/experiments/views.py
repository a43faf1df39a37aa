"""Prompt pages: the project's prompts, a prompt (versions, labels with their history and the
deploy/rollback/protect forms), a version (template, tools, settings, its traffic), and a diff of
any two versions side by side. One view and URL per action; members read, reviewers create
versions and move unprotected labels, admins move protected labels and protect them.

The prompt, version and label in the URL are resolved in ``resolve_tenant``: another project's
and a missing one are the same 404.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.views.generic import TemplateView, View
from django.views.generic.base import ContextMixin, TemplateResponseMixin

from apps.core.audit import Actor
from apps.core.errors import ServiceError
from apps.core.roles import Role, role_at_least
from apps.experiments import diff
from apps.experiments.models import Prompt, Regression
from apps.experiments.selectors import prompts as selectors
from apps.experiments.selectors.traffic import version_traffic_compared
from apps.experiments.services import labels as label_services
from apps.experiments.services.prompts import Author, prompt_version_create
from apps.projects.tenancy import ProjectViewMixin


def _author(request) -> Author:
    return Author(actor=Actor.from_request(request))


def _json_field(request, name: str, default):
    """A JSON text area; blank is the default, anything unparsable is the field's 400."""
    text = request.POST.get(name, "").strip()
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError as error:
        raise ServiceError(f"{name} is not valid JSON: {error}", code=f"invalid_{name}", field=name) from None


def _version_fields(request) -> dict:
    return {
        "template": request.POST.get("template", ""),
        "tools": _json_field(request, "tools", []),
        "settings": _json_field(request, "settings", {}),
        "message": request.POST.get("message", ""),
    }


class _RolesMixin:
    @property
    def can_write(self) -> bool:
        return role_at_least(self.membership.role, Role.REVIEWER)


class PromptListView(_RolesMixin, ProjectViewMixin, TemplateView):
    """``…/prompts/``: the project's prompts with their labels; reviewers create one (POST)."""

    template_name = "experiments/prompt_list.html"
    required_role = {"GET": Role.MEMBER, "POST": Role.REVIEWER}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(tab="prompts", prompts=list(selectors.prompt_list(project=self.project)), can_write=self.can_write)
        context.setdefault("form", {})
        return context

    def post(self, request, org, project):
        name = request.POST.get("name", "").strip()
        try:
            if name and Prompt.objects.for_project(self.project).filter(name=name).exists():
                raise ServiceError(f"A prompt named “{name}” already exists: add a version on its page.", code="name_taken", field="name")
            version = prompt_version_create(
                project=self.project, name=name, description=request.POST.get("description", ""),
                author=_author(request), **_version_fields(request),
            )
        except ServiceError as error:
            context = self.get_context_data(error=error.message, form=request.POST)
            return self.render_to_response(context, status=409 if error.code == "name_taken" else error.status)
        messages.success(request, f"Created {version.prompt.name} with version 1.")
        return redirect("prompt_detail", org=org, project=project, prompt=version.prompt.name)


class _PromptPage(_RolesMixin, ProjectViewMixin, TemplateResponseMixin, ContextMixin, View):
    template_name = "experiments/prompt_detail.html"

    def resolve_tenant(self, request, **kwargs) -> None:
        super().resolve_tenant(request, **kwargs)
        try:
            self.prompt = selectors.prompt_get(project=self.project, name=kwargs["prompt"])
        except ServiceError:
            raise Http404("No such prompt.") from None

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        versions = list(selectors.prompt_version_list(prompt=self.prompt))
        labels = selectors.prompt_label_list(prompt=self.prompt)
        by_version: dict = {}
        for label in labels:
            by_version.setdefault(label.version_id, []).append(label)
            previous = selectors.prompt_label_previous_version(label=label)
            label.rollback_to = previous.number if previous else None
            label.movable = self.can_write and label_services.may_move(label=label, role=self.membership.role)
        for version in versions:
            version.label_list = by_version.get(version.pk, [])
        latest = versions[0] if versions else None
        context.update(
            tab="prompts", prompt=self.prompt, versions=versions, labels=labels, latest=latest,
            history=selectors.prompt_label_history(prompt=self.prompt, limit=50), can_write=self.can_write,
            can_protect=role_at_least(self.membership.role, Role.ADMIN),
            reference=selectors.prompt_version_reference(self.prompt.name, latest.number) if latest else "",
            latest_tools=json.dumps(latest.tools, indent=2) if latest else "[]",
            latest_settings=json.dumps(latest.settings, indent=2) if latest else "{}",
            regressions=list(Regression.objects.for_project(self.project).filter(version__prompt=self.prompt, resolved_at__isnull=True)
                             .select_related("change", "version")),
        )
        context.setdefault("form", {})
        return context


class PromptDetailView(_PromptPage):
    """``…/prompts/<prompt>/``: versions, labels (deploy, rollback, protect), label history."""

    required_role = {"GET": Role.MEMBER}

    def get(self, request, org, project, prompt):
        return self.render_to_response(self.get_context_data())


class _PromptActionView(_PromptPage):
    """One change (a service call); a refusal shows the prompt page again with the reason."""

    required_role = {"POST": Role.REVIEWER}

    def act(self, request) -> str:
        raise NotImplementedError

    def post(self, request, org, project, prompt, **kwargs):
        try:
            message = self.act(request, **kwargs)
        except ServiceError as error:
            return self.render_to_response(self.get_context_data(error=error.message, form=request.POST), status=error.status)
        messages.success(request, message)
        return redirect("prompt_detail", org=org, project=project, prompt=self.prompt.name)


class PromptVersionCreateView(_PromptActionView):
    """``…/prompts/<prompt>/versions/``: the next version."""

    def act(self, request) -> str:
        version = prompt_version_create(project=self.project, name=self.prompt.name, author=_author(request), **_version_fields(request))
        return f"Created version {version.number}."


class PromptLabelMoveView(_PromptActionView):
    """``…/prompts/<prompt>/labels/``: point a label (new or existing) at a version: a deploy."""

    def act(self, request) -> str:
        label, move = label_services.prompt_label_move(
            prompt=self.prompt, name=request.POST.get("label", "").strip(), version=request.POST.get("version", ""),
            author=_author(request), role=self.membership.role,
        )
        if move is None:
            return f"{label.name} already points at version {label.version.number}."
        return f"{label.name} now points at version {label.version.number} ({move.get_kind_display().lower()})."


class PromptLabelRollbackView(_PromptActionView):
    """``…/prompts/<prompt>/labels/<label>/rollback/``: back to the version it pointed at before."""

    def act(self, request, label) -> str:
        moved, _ = label_services.prompt_label_rollback(prompt=self.prompt, name=label, author=_author(request), role=self.membership.role)
        return f"Rolled {moved.name} back to version {moved.version.number}."


class PromptLabelProtectionView(_PromptActionView):
    """``…/prompts/<prompt>/labels/<label>/protection/``: admins protect a label or lift it."""

    required_role = {"POST": Role.ADMIN}

    def act(self, request, label) -> str:
        try:
            found = selectors.prompt_label_get(prompt=self.prompt, name=label)
        except ServiceError:
            raise Http404("No such label.") from None
        protected = request.POST.get("protected") == "on"
        label_services.prompt_label_protect(label=found, protected=protected, author=_author(request))
        return f"{found.name} is {'protected: only admins move it' if protected else 'no longer protected'}."


class PromptVersionView(_RolesMixin, ProjectViewMixin, TemplateView):
    """``…/prompts/<prompt>/versions/<n>/``: the version and its traffic beside the previous one's."""

    template_name = "experiments/version_detail.html"
    required_role = {"GET": Role.MEMBER}

    def resolve_tenant(self, request, **kwargs) -> None:
        super().resolve_tenant(request, **kwargs)
        try:
            self.prompt = selectors.prompt_get(project=self.project, name=kwargs["prompt"])
            self.version = selectors.prompt_version_get(prompt=self.prompt, number=kwargs["version"])
        except ServiceError:
            raise Http404("No such version.") from None

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        current, previous = version_traffic_compared(version=self.version)
        rows = [
            (rate.label, rate, previous.rates[index] if previous else None) for index, rate in enumerate(current.rates)
        ]
        context.update(
            tab="prompts", prompt=self.prompt, version=self.version, current=current, previous=previous, rows=rows,
            labels=[label for label in selectors.prompt_label_list(prompt=self.prompt) if label.version_id == self.version.pk],
            tools=json.dumps(self.version.tools, indent=2, ensure_ascii=False),
            settings=json.dumps(self.version.settings, indent=2, ensure_ascii=False),
            reference=current.reference,
        )
        return context


class PromptDiffView(_RolesMixin, ProjectViewMixin, TemplateView):
    """``…/prompts/<prompt>/diff/?from=N&to=M``: template, tools and settings side by side."""

    template_name = "experiments/version_diff.html"
    required_role = {"GET": Role.MEMBER}

    def resolve_tenant(self, request, **kwargs) -> None:
        super().resolve_tenant(request, **kwargs)
        try:
            self.prompt = selectors.prompt_get(project=self.project, name=kwargs["prompt"])
        except ServiceError:
            raise Http404("No such prompt.") from None

    def get(self, request, org, project, prompt):
        versions = list(selectors.prompt_version_list(prompt=self.prompt))
        numbers = [v.number for v in versions]
        context = self.get_context_data(tab="prompts", prompt=self.prompt, numbers=numbers)
        default_to = numbers[0] if numbers else 1
        default_from = numbers[1] if len(numbers) > 1 else default_to
        chosen = {"from": request.GET.get("from") or str(default_from), "to": request.GET.get("to") or str(default_to)}
        try:
            before = selectors.prompt_version_get(prompt=self.prompt, number=int(chosen["from"]))
            after = selectors.prompt_version_get(prompt=self.prompt, number=int(chosen["to"]))
        except (ValueError, ServiceError):
            context.update(error="Choose two versions of this prompt.", chosen=chosen)
            return self.render_to_response(context, status=400 if request.GET else 200)
        context.update(before=before, after=after, sections=diff.version_diff(before, after), chosen=chosen)
        return self.render_to_response(context)
