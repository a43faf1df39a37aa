"""Experiment pages: the project's experiments (and a create form: a JSONL outputs upload, or a
customer endpoint the worker calls per case — URL, secret sealed at rest and never shown again,
timeout, concurrency), one experiment (its progress, polled while it runs, and errors; summary
per scorer, per-case table with pass/fail filters), and the comparison
of two experiments on the same dataset version (flips first, side-by-side outputs, word diff).
Members read; reviewers create and upload. A foreign or missing experiment is 404.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.views.generic import TemplateView

from apps.core.errors import ServiceError
from apps.core.roles import Role, role_at_least
from apps.datasets.selectors.datasets import dataset_list, revisions_at
from apps.experiments.api_experiments import create_from_body, upload_jsonl
from apps.experiments.selectors import compare as compare_selectors
from apps.experiments.selectors.experiments import experiment_get, experiment_list, experiment_progress, results_of
from apps.experiments.selectors.prompts import prompt_list
from apps.experiments.services.experiments import experiment_create
from apps.projects.tenancy import ProjectViewMixin

MAX_UPLOAD = 20 * 1024 * 1024


class ExperimentListView(ProjectViewMixin, TemplateView):
    """``…/experiments/``: every experiment with its status and summary; reviewers create one (POST)."""

    template_name = "experiments/experiment_list.html"
    required_role = {"GET": Role.MEMBER, "POST": Role.REVIEWER}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        experiments = list(experiment_list(project=self.project)[:200])
        context.update(
            tab="experiments", experiments=experiments,
            can_write=role_at_least(self.membership.role, Role.REVIEWER),
            datasets=list(dataset_list(project=self.project, include_archived=False)),
            prompts=list(prompt_list(project=self.project)),
        )
        context.setdefault("form", {})
        return context

    def post(self, request, org, project):
        form = request.POST
        try:
            prompt = None
            if form.get("prompt") and form.get("prompt_version"):
                prompt = {"name": form["prompt"], "version": _int(form["prompt_version"], "prompt_version")}
            scorers = json.loads(form.get("scorers") or "[]")
            upload = request.FILES.get("outputs")
            if upload is not None and upload.size > MAX_UPLOAD:
                raise ServiceError("The outputs file is larger than 20 MB.", code="payload_too_large", field="outputs")
            endpoint = _endpoint(form)
            if endpoint and upload is not None:
                raise ServiceError("Either upload outputs or name an endpoint, not both.", code="invalid", field="endpoint")
            if endpoint:
                experiment = create_from_body(project=self.project, body={
                    "name": form.get("name", ""), "dataset": form.get("dataset", ""),
                    "dataset_version": _int(form.get("dataset_version"), "dataset_version"), "prompt": prompt,
                    "scorers": scorers, "endpoint": endpoint,
                }, created_by_id=request.user.pk, created_by_label=request.user.email)
            else:
                experiment = experiment_create(
                    project=self.project, name=form.get("name", ""), dataset=form.get("dataset", ""),
                    dataset_version=_int(form.get("dataset_version"), "dataset_version"), prompt=prompt, scorers=scorers,
                    source="upload" if upload else "sdk", created_by_id=request.user.pk, created_by_label=request.user.email,
                )
            if upload is not None:
                outcome = upload_jsonl(experiment=experiment, raw=upload.read())
                if outcome["rejected"]:
                    first = next(r for r in outcome["results"] if r["status"] >= 400)
                    messages.warning(request, f"{outcome['rejected']} line(s) refused; the first: {first['message']}")
        except ValueError:
            return self._refuse("Scorers must be a JSON list, e.g. [{\"name\": \"exact\", \"kind\": \"exact_match\"}].", 400)
        except ServiceError as error:
            return self._refuse(error.message, error.status)
        messages.success(request, f"Created experiment “{experiment.name}”.")
        return redirect("experiment_detail", org=org, project=project, experiment=experiment.pk)

    def _refuse(self, message: str, status: int):
        form = self.request.POST.copy()
        form.pop("endpoint_secret", None)  # a secret is never sent back, not even to its author
        return self.render_to_response(self.get_context_data(error=message, form=form), status=status)


def _endpoint(form) -> dict | None:
    """The form's endpoint as the API's ``endpoint`` object (checked by ``endpoint_clean``), or None."""
    url = form.get("endpoint_url", "").strip()
    if not url:
        return None
    endpoint = {"url": url, "secret": form.get("endpoint_secret", "")}
    for field, name, kind in (("endpoint_timeout", "timeout", float), ("endpoint_concurrency", "concurrency", int)):
        raw = form.get(field, "").strip()
        if raw:
            try:
                endpoint[name] = kind(raw)
            except ValueError:
                raise ServiceError(f"The endpoint's {name} is a number.", code="invalid_endpoint", field=f"endpoint.{name}") from None
    return endpoint


def _int(raw, field: str) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ServiceError("Pick a version number.", code="invalid", field=field) from None


class _ExperimentPage(ProjectViewMixin, TemplateView):
    required_role = {"GET": Role.MEMBER}

    def resolve_tenant(self, request, **kwargs) -> None:
        super().resolve_tenant(request, **kwargs)
        try:
            self.experiment = experiment_get(project=self.project, experiment_id=kwargs["experiment"])
        except ServiceError:
            raise Http404("No such experiment.") from None


class ExperimentDetailView(_ExperimentPage):
    """``…/experiments/<id>/``: progress, summary per scorer, then the cases
    (``?scorer=&outcome=pass|fail|error``); ``?fragment=progress`` is the progress block alone,
    which the page polls while the experiment is pending or running."""

    template_name = "experiments/experiment_detail.html"

    def get_template_names(self):
        if self.request.GET.get("fragment") == "progress":
            return ["experiments/_experiment_progress.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        experiment = self.experiment
        context.update(tab="experiments", experiment=experiment, progress=experiment_progress(experiment=experiment))
        if self.request.GET.get("fragment") == "progress":
            return context
        scorer, outcome = self.request.GET.get("scorer", ""), self.request.GET.get("outcome", "")
        cases = {c.case_id: c for c in revisions_at(dataset=experiment.dataset, number=experiment.dataset_version)}
        rows = []
        for result in results_of(experiment=experiment)[:2000]:
            if scorer and outcome in ("pass", "fail"):
                if result.scores.get(scorer) is not (outcome == "pass"):
                    continue
            elif outcome == "error" and not result.error:
                continue
            case = cases.get(result.case_id)
            rows.append({"result": result, "input": case.input if case else "", "expected": case.expected_output if case else "",
                         "scores": sorted(result.scores.items())})
        others = [e for e in experiment_list(project=self.project).filter(
            dataset=experiment.dataset, dataset_version=experiment.dataset_version).exclude(pk=experiment.pk)[:50]]
        context.update(tab="experiments", experiment=experiment, rows=rows, scorer=scorer, outcome=outcome,
                       summary=sorted(experiment.summary.items()), scorer_names=sorted(experiment.summary), others=others)
        return context


class ExperimentCompareView(_ExperimentPage):
    """``…/experiments/<id>/compare/?with=<id>``: flipped cases first, outputs side by side with a word diff."""

    template_name = "experiments/experiment_compare.html"

    def get(self, request, *args, **kwargs):
        raw = request.GET.get("with")
        if raw is None:  # the latest other run on the same dataset version
            candidate = experiment_list(project=self.project).filter(
                dataset=self.experiment.dataset, dataset_version=self.experiment.dataset_version,
            ).exclude(pk=self.experiment.pk).first()
            if candidate is None:
                return self.render_to_response(self.get_context_data(
                    tab="experiments", experiment=self.experiment, candidate=None,
                    error="No other experiment ran on this dataset version: there is nothing to compare with yet."))
        else:
            try:
                candidate = experiment_get(project=self.project, experiment_id=raw)
            except ServiceError:
                raise Http404("No such experiment.") from None
        try:
            found = compare_selectors.comparison(baseline=self.experiment, candidate=candidate)
        except ServiceError as error:
            return self.render_to_response(self.get_context_data(tab="experiments", experiment=self.experiment,
                                                                 candidate=candidate, error=error.message), status=400)
        return self.render_to_response(self.get_context_data(tab="experiments", experiment=self.experiment,
                                                             candidate=candidate, comparison=found))
