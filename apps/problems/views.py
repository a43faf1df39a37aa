"""Backlog pages: the ranked list (members read) and a problem's page, where reviewers rename,
set the status, confirm or reject the cause, merge and split — one view and URL per action.

The problem named in the URL is resolved in ``resolve_tenant``: another project's problem and a
missing one are the same 404. A merged problem's page redirects to the one that absorbed it.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.views.generic import TemplateView, View
from django.views.generic.base import ContextMixin, TemplateResponseMixin

from apps.core import hooks
from apps.core.errors import ServiceError
from apps.core.pagination import decode_position
from apps.core.roles import Role, role_at_least
from apps.projects.tenancy import ProjectViewMixin
from apps.core.audit import Actor
from apps.problems import selectors
from apps.problems.flags import SEVERITY_LABELS
from apps.problems.models import SETTABLE_STATUSES, ProblemStatus
from apps.problems.ranking import FACTORS, FORMULA
from apps.problems.selectors import STATUS_FILTERS
from apps.problems.services import backlog

MEMBERS_SHOWN = 200
# ``(*, project, organization, membership, problem) -> {"add_url"}``: the problem page's "add its
# confirmed turns to a dataset"; apps.datasets (a floor above) registers it at ready().
PROBLEM_ACTIONS_HOOK = "datasets.problem_actions"
PROBLEM_CHANGES_HOOK = "experiments.problem_changes"  # the changes addressing a problem
BACKLOG_REGRESSIONS_HOOK = "experiments.backlog_regressions"  # open post-deploy regressions
STATUS_LABELS = dict(ProblemStatus.choices)


def _status_options():
    return [("unresolved", "Unresolved (open, confirmed, fixing)"), ("all", "All")] + [
        (s, STATUS_LABELS[s]) for s in SETTABLE_STATUSES
    ]


class ProblemListView(ProjectViewMixin, TemplateView):
    """``…/problems/``: problems ranked by pain, every factor shown, the formula on the page."""

    template_name = "problems/problem_list.html"
    required_role = {"GET": Role.MEMBER}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        status = self.request.GET.get("status") or "unresolved"
        error = ""
        if status not in STATUS_FILTERS:
            error = f"Unknown status filter “{status[:40]}”; showing unresolved problems."
            status = "unresolved"
        problems = list(selectors.problem_list(project=self.project, status=status)[:500])
        state = selectors.clustering_state_get(project=self.project)
        context.update(
            tab="problems", problems=problems, status=status, status_options=_status_options(), error=error,
            formula=FORMULA, factors=FACTORS, severity_labels=SEVERITY_LABELS,
            last_run_at=state.last_run_at if state else None,
            regressions=hooks.call(BACKLOG_REGRESSIONS_HOOK, project=self.project, organization=self.organization),
        )
        return context

    def get(self, request, *args, **kwargs):
        context = self.get_context_data(**kwargs)
        return self.render_to_response(context, status=400 if context["error"] else 200)


class _ProblemPage(ProjectViewMixin, TemplateResponseMixin, ContextMixin, View):
    """The problem named in the URL and the context of its page (shown, or shown again with an
    error). No ``get`` here: an action's URL takes only its POST (405 otherwise)."""

    template_name = "problems/problem_detail.html"

    def resolve_tenant(self, request, **kwargs) -> None:
        super().resolve_tenant(request, **kwargs)
        self.problem = selectors.problem_get(project=self.project, problem_id=kwargs["problem"])

    def get_context_data(self, *, after: str = "", **kwargs):
        context = super().get_context_data(**kwargs)
        problem = self.problem
        members, next_cursor = selectors.problem_members(problem=problem, limit=MEMBERS_SHOWN, after=after)
        context.update(
            tab="problems", problem=problem, members=members, members_shown=MEMBERS_SHOWN, older=next_cursor,
            paged=bool(after), merge_targets=selectors.problem_merge_targets(project=self.project, problem=problem),
            statuses=[(s, STATUS_LABELS[s]) for s in SETTABLE_STATUSES], formula=FORMULA,
            findings=(problem.evidence or {}).get("findings", []),
            can_edit=role_at_least(self.membership.role, Role.REVIEWER) and not problem.is_merged,
            dataset_actions=hooks.call(
                PROBLEM_ACTIONS_HOOK, project=self.project, organization=self.organization, membership=self.membership,
                problem=problem,
            ),
            changes=hooks.call(PROBLEM_CHANGES_HOOK, project=self.project, organization=self.organization, problem=problem),
        )
        return context


class ProblemDetailView(_ProblemPage):
    """``…/problems/<problem>/``: cause and evidence, status, turns; the forms of the reviewer's
    actions, each posting to its own view below."""

    required_role = {"GET": Role.MEMBER}

    def get(self, request, org, project, problem):
        if self.problem.is_merged:
            survivor = selectors.problem_surviving(problem=self.problem)
            messages.info(request, f"Problem #{self.problem.pk} was merged into this one.")
            return redirect("problem_detail", org=org, project=project, problem=survivor.pk)
        after = request.GET.get("after", "")
        if after and decode_position(after) is None:
            context = self.get_context_data(error="This page link is not valid; showing the newest turns.")
            return self.render_to_response(context, status=400)
        return self.render_to_response(self.get_context_data(after=after))


class _ProblemActionView(_ProblemPage):
    """A reviewer's change to the problem: ``act`` calls one service and returns the problem to
    show next with its message; a refused change shows the page again with the reason."""

    required_role = {"POST": Role.REVIEWER}

    def act(self, request, actor: Actor):
        raise NotImplementedError

    def post(self, request, org, project, problem):
        try:
            target, message = self.act(request, Actor.from_request(request))
        except ServiceError as error:
            self.problem.refresh_from_db()
            return self.render_to_response(self.get_context_data(error=error.message), status=error.status)
        messages.success(request, message)
        return redirect("problem_detail", org=org, project=project, problem=target.pk)


class ProblemRenameView(_ProblemActionView):
    """``…/problems/<problem>/rename/``: a new title, which the clustering job then keeps."""

    def act(self, request, actor):
        return backlog.problem_update(problem=self.problem, actor=actor, title=request.POST.get("title", "")), "Renamed."


class ProblemStatusView(_ProblemActionView):
    """``…/problems/<problem>/status/``: one of the settable statuses."""

    def act(self, request, actor):
        return backlog.problem_update(problem=self.problem, actor=actor, status=request.POST.get("status", "")), "Status saved."


class ProblemCauseView(_ProblemActionView):
    """``…/problems/<problem>/cause/``: confirm or reject the proposed cause."""

    def act(self, request, actor):
        verdict = request.POST.get("verdict", "")
        return backlog.problem_cause_review(problem=self.problem, actor=actor, verdict=verdict), "Cause reviewed."


class ProblemMergeView(_ProblemActionView):
    """``…/problems/<problem>/merge/``: into another problem of this project, whose page follows."""

    def act(self, request, actor):
        into = selectors.problem_get_by_id(project=self.project, problem_id=request.POST.get("into"))
        target = backlog.problem_merge(problem=self.problem, into=into, actor=actor)
        return target, f"Merged #{self.problem.pk} into this problem."


class ProblemSplitView(_ProblemActionView):
    """``…/problems/<problem>/split/``: the selected turns into a new problem, whose page follows."""

    def act(self, request, actor):
        target = backlog.problem_split(
            problem=self.problem, actor=actor, turn_ids=request.POST.getlist("turn_ids"), title=request.POST.get("title", ""),
        )
        return target, f"Split {target.turn_count} turns off into this new problem."
