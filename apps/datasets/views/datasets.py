"""Dataset pages: the project's list (reviewers create), a dataset's cases with filters and
keyset pages, its settings (rename, archive, queue auto-add), version history and diffs."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.views.generic import TemplateView, View

from apps.core.audit import Actor
from apps.core.errors import ServiceError
from apps.core.roles import Role
from apps.datasets.presenters import filters_from_query
from apps.datasets.selectors import datasets as selectors
from apps.datasets.selectors.diff import version_diff
from apps.datasets.selectors.export import FORMATS
from apps.datasets.services import datasets as dataset_services
from apps.datasets.services import integrations
from apps.datasets.services.changes import Author, cases_move, cases_remove
from apps.datasets.views.base import DatasetViewMixin, found
from apps.projects.tenancy import ProjectViewMixin
from apps.review.selectors import review_queue_list
from apps.traces.selectors import tombstones_for

CASES_PER_PAGE = 50


class DatasetListView(ProjectViewMixin, TemplateView):
    """``…/datasets/``: every dataset of the project with its latest version; reviewers create."""

    template_name = "datasets/dataset_list.html"
    required_role = {"GET": Role.MEMBER, "POST": Role.REVIEWER}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(tab="datasets", datasets=list(selectors.dataset_list(project=self.project)[:500]))
        return context

    def post(self, request, org, project):
        try:
            dataset = dataset_services.dataset_create(
                project=self.project, name=request.POST.get("name", ""), description=request.POST.get("description", ""),
                actor=Actor.from_request(request),
            )
        except ServiceError as error:
            context = self.get_context_data(error=error.message, form_name=request.POST.get("name", "")[:100],
                                            form_description=request.POST.get("description", "")[:5000])
            return self.render_to_response(context, status=error.status)
        messages.success(request, f"Dataset “{dataset.name}” created.")
        return redirect("dataset_detail", org=org, project=project, dataset=dataset.pk)


def _position(raw: str) -> int | None:
    if not raw:
        return 0
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


class DatasetDetailView(DatasetViewMixin, TemplateView):
    """``…/datasets/<dataset>/``: the cases of a version (``?version=``, latest by default),
    filtered by split, tag, category and text, 50 a page (``?after=`` keyset)."""

    template_name = "datasets/dataset_detail.html"
    required_role = {"GET": Role.MEMBER}

    def get(self, request, *args, **kwargs):
        error = ""
        number = self.dataset.latest_version
        raw = request.GET.get("version", "")
        if raw:
            number = found(selectors.version_get, dataset=self.dataset, number=raw).number
        after = _position(request.GET.get("after", ""))
        try:
            filters = filters_from_query(request.GET)
        except ServiceError as refused:
            error, filters = refused.message, {}
        if after is None:
            error, after = "This page link is not valid; showing the first cases.", 0
        rows, last = (selectors.case_page(dataset=self.dataset, number=number, after=after, limit=CASES_PER_PAGE, **filters)
                      if number else ([], None))
        present = selectors.turns_present(project=self.project, turn_ids=[row.turn_id for row in rows])
        tombstones = tombstones_for(project=self.project, turn_ids=[row.turn_id for row in rows if row.turn_id not in present])
        query = request.GET.copy()
        query.pop("after", None)
        context = self.get_context_data(
            number=number, rows=[{"case": row, "turn_present": row.turn_id in present, "tombstone": tombstones.get(row.turn_id)} for row in rows],
            next_after=last, paged=bool(after), query=query.urlencode(), filters=filters, error=error,
            facets=selectors.case_facets(dataset=self.dataset, number=number) if number else {},
            versions=list(selectors.version_list(dataset=self.dataset)[:10]), formats=list(FORMATS),
            is_latest=number == self.dataset.latest_version,
        )
        return self.render_to_response(context, status=400 if error else 200)


class DatasetSettingsView(DatasetViewMixin, TemplateView):
    """``…/datasets/<dataset>/settings/``: rename, describe, archive (reviewers); the queues whose
    confirmed corrections go here automatically (admins)."""

    template_name = "datasets/dataset_settings.html"
    required_role = {"GET": Role.REVIEWER, "POST": Role.REVIEWER}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(rules=list(selectors.auto_add_rules(dataset=self.dataset)), queues=list(review_queue_list(project=self.project)))
        return context

    def post(self, request, org, project, dataset):
        try:
            dataset_services.dataset_update(
                dataset=self.dataset, actor=Actor.from_request(request), name=request.POST.get("name"),
                description=request.POST.get("description"),
                archived={"1": True, "0": False}.get(request.POST.get("archived", "")),
            )
        except ServiceError as error:
            return self.render_to_response(self.get_context_data(error=error.message), status=error.status)
        messages.success(request, "Dataset saved.")
        return redirect("dataset_settings", org=org, project=project, dataset=dataset)


class DatasetAutoAddView(DatasetViewMixin, View):
    """``POST …/datasets/<dataset>/auto-add/`` (admins): set or clear a queue's auto-add rule."""

    required_role = {"POST": Role.ADMIN}

    def post(self, request, org, project, dataset):
        queue_id = request.POST.get("queue", "")
        queue = review_queue_list(project=self.project).filter(pk=queue_id if queue_id.isdigit() else 0).first()
        if queue is None:
            messages.error(request, "Choose one of this project's queues.")
            return redirect("dataset_settings", org=org, project=project, dataset=dataset)
        try:
            rule = integrations.auto_add_set(
                dataset=self.dataset, queue=queue, split=request.POST.get("split", ""),
                enabled=request.POST.get("enabled", "1") == "1", actor=Actor.from_request(request),
            )
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Queue “{queue.name}”: " + (
                f"confirmed corrections now go to this dataset (split “{rule.split or '—'}”)." if rule else "auto-add removed."))
        return redirect("dataset_settings", org=org, project=project, dataset=dataset)


class DatasetCasesChangeView(DatasetViewMixin, View):
    """``POST …/datasets/<dataset>/cases/change/`` (reviewers): remove the selected cases or move
    them to a split — one new version, with the message given."""

    required_role = {"POST": Role.REVIEWER}

    def post(self, request, org, project, dataset):
        case_ids = request.POST.getlist("case_ids")
        version = request.POST.get("version", "")
        author, message = Author.of_user(request.user), request.POST.get("message", "")
        try:
            if not case_ids:
                raise ServiceError("Select at least one case.", field="case_ids")
            based_on = int(version) if version.isdigit() else None
            if request.POST.get("action") == "remove":
                result = cases_remove(dataset=self.dataset, case_ids=case_ids, author=author, message=message, version=based_on)
            else:
                result = cases_move(dataset=self.dataset, case_ids=case_ids, split=request.POST.get("split", ""),
                                    author=author, message=message, version=based_on)
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Version {result.number} saved." if result.version else "Nothing changed.")
        return redirect("dataset_detail", org=org, project=project, dataset=dataset)


class VersionListView(DatasetViewMixin, TemplateView):
    """``…/datasets/<dataset>/versions/``: every version with its message, author and counts."""

    template_name = "datasets/version_list.html"
    required_role = {"GET": Role.MEMBER}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["versions"] = list(selectors.version_list(dataset=self.dataset))
        return context


class VersionDiffView(DatasetViewMixin, TemplateView):
    """``…/datasets/<dataset>/diff/?from=N&to=M``: added, removed and changed cases, field by field."""

    template_name = "datasets/version_diff.html"
    required_role = {"GET": Role.MEMBER}

    def get(self, request, *args, **kwargs):
        latest = self.dataset.latest_version
        raw_from, raw_to = request.GET.get("from", str(max(latest - 1, 1))), request.GET.get("to", str(latest))
        if not latest:
            raise Http404("This dataset has no version yet.")
        first = found(selectors.version_get, dataset=self.dataset, number=raw_from)
        second = found(selectors.version_get, dataset=self.dataset, number=raw_to)
        diff = version_diff(dataset=self.dataset, from_version=first.number, to_version=second.number, limit=200)
        context = self.get_context_data(
            diff=diff, first=first, second=second, versions=list(selectors.version_list(dataset=self.dataset)),
        )
        return self.render_to_response(context)
