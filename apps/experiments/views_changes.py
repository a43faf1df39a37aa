"""Change and validation pages: the project's changes, a change (problems, prompt diff link,
validations with their verdict history, regressions, Promote / Override / Rollback), a new
validation form that shows the sample per arm the power calculation asks for before it starts,
and a validation's report. Members read; reviewers make changes, validations, promote and roll
back; only admins override the gate (with a reason)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.views.generic import TemplateView, View

from apps.core.audit import Actor
from apps.core.errors import NotFound, ServiceError
from apps.core.roles import Role, role_at_least
from apps.experiments import statistics
from apps.experiments.selectors import changes as change_selectors
from apps.experiments.selectors.experiments import experiment_list
from apps.experiments.selectors.prompts import prompt_list
from apps.experiments.services import changes as change_services
from apps.experiments.services.prompts import Author
from apps.experiments.services.validations import validation_body, validation_request
from apps.projects.tenancy import ProjectViewMixin


def _author(request) -> Author:
    return Author(actor=Actor.from_request(request))


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value, default):
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


class _ChangeMixin:
    def resolve_tenant(self, request, **kwargs) -> None:
        super().resolve_tenant(request, **kwargs)
        try:
            self.change = change_selectors.change_get(project=self.project, change_id=kwargs["change"])
        except NotFound:
            raise Http404("No such change.") from None


class ChangeListView(ProjectViewMixin, TemplateView):
    """``…/changes/``: the project's changes; reviewers make one (POST)."""

    template_name = "experiments/change_list.html"
    required_role = {"GET": Role.MEMBER, "POST": Role.REVIEWER}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        changes = list(change_selectors.change_list(project=self.project))
        latest = change_selectors.change_latest_validations(changes)
        for change in changes:
            change.latest = latest.get(change.pk)
        context.update(tab="prompts", changes=changes, can_write=role_at_least(self.membership.role, Role.REVIEWER),
                       prompts=list(prompt_list(project=self.project)),
                       problems=change_selectors.change_problem_choices(project=self.project))
        context.setdefault("form", {})
        return context

    def post(self, request, org, project):
        try:
            change = change_services.change_create(
                project=self.project, title=request.POST.get("title", ""), prompt=request.POST.get("prompt", ""),
                candidate=_int(request.POST.get("candidate")), baseline=_int(request.POST.get("baseline")) if request.POST.get("baseline") else None,
                problems=[p for p in (_int(v) for v in request.POST.getlist("problems")) if p is not None],
                description=request.POST.get("description", ""), author=_author(request))
        except ServiceError as error:
            return self.render_to_response(self.get_context_data(error=error.message, form=request.POST), status=error.status)
        messages.success(request, f"Made the change “{change.title}”.")
        return redirect("change_detail", org=org, project=project, change=change.pk)


class ChangeDetailView(_ChangeMixin, ProjectViewMixin, TemplateView):
    """``…/changes/<id>/``: problems, validations (verdict history), regressions, the gate's buttons."""

    template_name = "experiments/change_detail.html"
    required_role = {"GET": Role.MEMBER}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        change = self.change
        validations = change_selectors.change_validations(change=change)
        context.update(
            tab="prompts", change=change, validations=validations, latest=validations[0] if validations else None,
            problems=change_selectors.change_problems(change=change),
            regressions=change_selectors.change_regressions(change=change),
            can_write=role_at_least(self.membership.role, Role.REVIEWER),
            can_override=role_at_least(self.membership.role, Role.ADMIN),
        )
        return context


class _ChangeAction(_ChangeMixin, ProjectViewMixin, View):
    required_role = {"POST": Role.REVIEWER}

    def post(self, request, org, project, change):
        try:
            message = self.act(request)
        except ServiceError as error:
            messages.error(request, error.message)
            return redirect("change_detail", org=org, project=project, change=self.change.pk)
        messages.success(request, message)
        return redirect("change_detail", org=org, project=project, change=self.change.pk)


class ChangePromoteView(_ChangeAction):
    def act(self, request) -> str:
        reason = request.POST.get("override_reason")
        promoted = change_services.change_promote(change=self.change, author=_author(request), role=self.membership.role,
                                                  override_reason=reason if reason is not None else None)
        return f"{promoted.label} now points at version {promoted.candidate.number}."


class ChangeRollbackView(_ChangeAction):
    def act(self, request) -> str:
        rolled = change_services.change_rollback(change=self.change, author=_author(request), role=self.membership.role)
        return f"Rolled {rolled.label} back to version {rolled.baseline.number}."


def power_preview(params) -> dict:
    """The form's power calculation (GET parameters, defaults 0.1 / 0.02 / 0.05 / 0.8)."""
    plan = {"baseline_rate": _float(params.get("baseline_rate"), 0.1), "min_detectable_effect": _float(params.get("min_detectable_effect"), 0.02),
            "alpha": _float(params.get("alpha"), 0.05), "power": _float(params.get("power"), 0.8)}
    try:
        plan["sample_needed"] = statistics.sample_size_per_arm(**plan)
    except (ValueError, ZeroDivisionError) as error:
        plan["sample_needed"], plan["error"] = None, str(error)
    return plan


class ValidationNewView(_ChangeMixin, ProjectViewMixin, TemplateView):
    """``…/changes/<id>/validations/new/``: the form; GET recomputes the sample per arm."""

    template_name = "experiments/validation_new.html"
    required_role = {"GET": Role.REVIEWER, "POST": Role.REVIEWER}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        source = kwargs.get("form") or self.request.GET
        context.update(tab="prompts", change=self.change, plan=power_preview(source),
                       experiments=list(experiment_list(project=self.project)[:100]),
                       candidate_ref=f"{self.change.candidate.prompt.name}@{self.change.candidate.number}",
                       baseline_ref=f"{self.change.baseline.prompt.name}@{self.change.baseline.number}")
        context.setdefault("form", {})
        return context

    def post(self, request, org, project, change):
        data = request.POST
        if data.get("kind") == "offline":
            body = {"kind": "offline", "baseline": _int(data.get("baseline")), "candidate": _int(data.get("candidate"))}
        else:
            arm_by = data.get("arm_by", "prompt_version")
            body = {"kind": "online", "baseline": {arm_by: data.get("baseline_arm", "")}, "candidate": {arm_by: data.get("candidate_arm", "")},
                    "target": {"signal": data.get("target", ""), "direction": data.get("direction", "decrease")},
                    "guardrails": [{"signal": s, "direction": "decrease", "tolerance": _float(data.get("tolerance"), 0.01)}
                                   for s in data.getlist("guardrails") if s],
                    "alpha": _float(data.get("alpha"), 0.05), "power": _float(data.get("power"), 0.8),
                    "min_detectable_effect": _float(data.get("min_detectable_effect"), 0.02),
                    "design": data.get("design", "fixed")}
            if data.get("baseline_rate"):
                body["baseline_rate"] = _float(data.get("baseline_rate"), None)
        try:
            validation, _ = validation_request(project=self.project, body=body, change=self.change,
                                               author_label=getattr(request.user, "email", ""))
        except ServiceError as error:
            return self.render_to_response(self.get_context_data(error=error.message, form=data), status=error.status)
        return redirect("validation_detail", org=org, project=project, validation=validation.pk)


class ValidationDetailView(ProjectViewMixin, TemplateView):
    """``…/validations/<id>/``: every figure, the explanation, the flipped cases, progress or error."""

    template_name = "experiments/validation_detail.html"
    required_role = {"GET": Role.MEMBER}

    def resolve_tenant(self, request, **kwargs) -> None:
        super().resolve_tenant(request, **kwargs)
        try:
            self.validation = change_selectors.validation_get(project=self.project, validation_id=kwargs["validation"])
        except NotFound:
            raise Http404("No such validation.") from None

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(tab="prompts", validation=self.validation, report=validation_body(self.validation),
                       explanation=(self.validation.report or {}).get("explanation", "").splitlines())
        return context
