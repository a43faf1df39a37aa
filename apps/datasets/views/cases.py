"""Case pages: one case with its lineage (the turn, or its tombstone; decision, reviewer,
problem) and revisions, its edit form; a hand-written case; adding turns (from the replay page,
a problem page or the review page)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import TemplateView

from apps.core.errors import ServiceError, ValidationFailed
from apps.core.roles import Role
from apps.datasets.cases import CaseInvalid, case_clean, split_clean, tags_clean
from apps.datasets.models import CaseSource
from apps.datasets.selectors import datasets as selectors
from apps.datasets.services.changes import Author, case_edit, cases_add, edit_changes_clean, revision_new
from apps.datasets.services.turns import cases_add_from_turns, problem_confirmed_turn_ids
from apps.datasets.views.base import DatasetViewMixin, found
from apps.problems.selectors import problem_get_by_id
from apps.projects.tenancy import ProjectViewMixin
from apps.review.models import Decision
from apps.traces.selectors import tombstones_for

JSON_FIELDS = ("history", "context", "metadata")


def _form_case(post) -> dict:
    """A case from the form's fields (JSON fields as JSON text, tags comma-separated)."""
    data = {name: post.get(name, "") for name in ("input", "expected_output", "failure_category", "split")}
    data["tags"] = [tag.strip() for tag in post.get("tags", "").split(",") if tag.strip()]
    for name in JSON_FIELDS:
        raw = post.get(name, "").strip()
        if raw:
            try:
                data[name] = json.loads(raw)
            except ValueError as error:
                raise ValidationFailed(f"{name} is not valid JSON ({error}).", field=name) from None
    return data


def _form_values(case) -> dict:
    return {
        "input": case.input, "expected_output": case.expected_output, "failure_category": case.failure_category,
        "split": case.split, "tags": ", ".join(case.tags),
        **{name: json.dumps(getattr(case, name), indent=2, ensure_ascii=False) for name in JSON_FIELDS},
    }


class CaseDetailView(DatasetViewMixin, TemplateView):
    """``…/datasets/<dataset>/cases/<case>/`` (``?version=``): the case, its lineage and history;
    reviewers edit the latest version's case here (each save is a new version)."""

    template_name = "datasets/case_detail.html"
    required_role = {"GET": Role.MEMBER, "POST": Role.REVIEWER}

    def resolve_tenant(self, request, **kwargs) -> None:
        super().resolve_tenant(request, **kwargs)
        self.revisions = selectors.case_revisions(dataset=self.dataset, case_id=kwargs["case"])
        if not self.revisions:
            raise Http404("No such case in this dataset.")

    def _case(self, raw_version):
        if raw_version:
            number = found(selectors.version_get, dataset=self.dataset, number=raw_version).number
            return found(selectors.case_get, dataset=self.dataset, number=number, case_id=self.kwargs["case"]), number
        return self.revisions[-1], self.dataset.latest_version

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        case, number = kwargs.get("case") or self._case(self.request.GET.get("version", ""))
        turn_present = bool(case.turn_id) and case.turn_id in selectors.turns_present(project=self.project, turn_ids=[case.turn_id])
        decision_present = bool(case.decision_id) and Decision.objects.for_project(self.project).filter(pk=case.decision_id).exists()
        live = self.revisions[-1].removed_in is None
        context.update(
            case=case, number=number, revisions=self.revisions, turn_present=turn_present, decision_present=decision_present,
            tombstone=None if turn_present else tombstones_for(project=self.project, turn_ids=[case.turn_id]).get(case.turn_id),
            editable=self.can_edit and live and case.pk == self.revisions[-1].pk and not self.dataset.archived,
            json_values={name: json.dumps(getattr(case, name), indent=2, ensure_ascii=False) for name in JSON_FIELDS},
        )
        context.setdefault("values", _form_values(case))
        return context

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(case=self._case(request.GET.get("version", ""))))

    def post(self, request, org, project, dataset, case):
        current = self.revisions[-1]
        try:
            data = _form_case(request.POST)
            changes = edit_changes_clean({name: value for name, value in data.items()})
            changes = {name: value for name, value in changes.items() if getattr(current, name) != value}
            based_on = request.POST.get("version", "")
            result = case_edit(
                dataset=self.dataset, case_id=case, changes=changes, author=Author.of_user(request.user),
                message=request.POST.get("message", ""), version=int(based_on) if based_on.isdigit() else None,
            ) if changes else None
        except ServiceError as error:
            context = self.get_context_data(case=(current, self.dataset.latest_version), error=error.message,
                                            values={name: request.POST.get(name, "") for name in _form_values(current)})
            return self.render_to_response(context, status=error.status)
        messages.success(request, f"Saved as version {result.number}." if result and result.version else "Nothing changed.")
        return redirect("dataset_case", org=org, project=project, dataset=dataset, case=case)


class CaseCreateView(DatasetViewMixin, TemplateView):
    """``…/datasets/<dataset>/cases/new/``: a hand-written case (reviewers)."""

    template_name = "datasets/case_new.html"
    required_role = {"GET": Role.REVIEWER, "POST": Role.REVIEWER}

    def post(self, request, org, project, dataset):
        try:
            data = _form_case(request.POST)
            try:
                content = case_clean(data, allow_lineage=False)
            except CaseInvalid as error:
                field_name, reason = error.errors[0]
                raise ValidationFailed(f"{field_name} {reason}.", field=field_name) from None
            result, _ = cases_add(
                dataset=self.dataset, author=Author.of_user(request.user), revisions=[revision_new(content, source=CaseSource.HAND)],
                message=request.POST.get("message", ""), default_message="Case written by hand",
            )
        except ServiceError as error:
            context = self.get_context_data(error=error.message, values=request.POST)
            return self.render_to_response(context, status=error.status)
        messages.success(request, f"Case added as version {result.number}.")
        return redirect("dataset_case", org=org, project=project, dataset=dataset, case=result.case_ids[0])


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


class AddTurnsView(ProjectViewMixin, TemplateView):
    """``…/datasets/add/?turn=<id>`` or ``?problem=<id>`` (all its confirmed turns): choose the
    dataset, split and tags, then add them as one version (reviewers). The review page's
    ``a`` key posts here with the last confirmed turn."""

    template_name = "datasets/add_turns.html"
    required_role = {"GET": Role.REVIEWER, "POST": Role.REVIEWER}

    def _turn_ids(self, source) -> tuple[list, object]:
        problem = None
        if source.get("problem"):
            problem = problem_get_by_id(project=self.project, problem_id=source.get("problem"))
            if problem is None:
                raise Http404("No such problem.")
            return problem_confirmed_turn_ids(problem=problem), problem
        return [turn for turn in source.getlist("turn") if turn][:1000], problem

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        source = self.request.POST if self.request.method == "POST" else self.request.GET
        turn_ids, problem = self._turn_ids(source)
        context.update(
            tab="datasets", turn_ids=turn_ids, problem=problem,
            datasets=list(selectors.dataset_list(project=self.project, include_archived=False)),
            next=source.get("next", ""),
        )
        return context

    def post(self, request, org, project):
        turn_ids, problem = self._turn_ids(request.POST)
        raw = request.POST.get("dataset", "")
        dataset = selectors.dataset_list(project=self.project, include_archived=False).filter(pk=raw if raw.isdigit() else 0).first()
        try:
            if dataset is None:
                raise ValidationFailed("Choose a dataset.", field="dataset")
            if not turn_ids:
                raise ValidationFailed("There is no confirmed turn to add.", field="turn")
            tags = [tag.strip() for tag in request.POST.get("tags", "").split(",") if tag.strip()]
            errors: list = []
            split, tags = split_clean(request.POST.get("split", ""), errors), tags_clean(tags, errors)
            if errors:
                raise ValidationFailed(f"{errors[0][0]} {errors[0][1]}.", field=errors[0][0])
            message = request.POST.get("message", "") or (f"Confirmed turns of problem #{problem.pk}" if problem else "")
            result, outcomes = cases_add_from_turns(
                dataset=dataset, author=Author.of_user(request.user), turn_ids=turn_ids, split=split, tags=tags, message=message,
            )
        except ServiceError as error:
            return self.render_to_response(self.get_context_data(error=error.message), status=error.status)
        for key in [key for key in request.session.keys() if key.startswith("datasets:last-confirmed:")]:
            if request.session[key] in {str(turn) for turn in turn_ids}:
                del request.session[key]
        added = sum(1 for o in outcomes if o["status"] == 201)
        already = sum(1 for o in outcomes if o["status"] == 200)
        missing = sum(1 for o in outcomes if o["status"] == 404)
        text = f"Added {added} case(s) to “{dataset.name}”" + (f" as version {result.number}" if result.version else "")
        if already:
            text += f"; {already} already there"
        if missing:
            text += f"; {missing} turn(s) no longer stored"
        messages.success(request, text + ".")
        return redirect(_safe_next(request, reverse("dataset_detail", kwargs={"org": org, "project": project, "dataset": dataset.pk})))
