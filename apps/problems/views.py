"""Backlog pages: the ranked list (members read) and a problem's page, where reviewers rename,
set the status, confirm or reject the cause, merge and split.

The problem named in the URL is resolved in ``resolve_tenant``: another project's problem and a
missing one are the same 404. A merged problem's page redirects to the one that absorbed it.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.views.generic import TemplateView

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
        )
        return context

    def get(self, request, *args, **kwargs):
        context = self.get_context_data(**kwargs)
        return self.render_to_response(context, status=400 if context["error"] else 200)


class ProblemDetailView(ProjectViewMixin, TemplateView):
    """``…/problems/<problem>/``: cause and evidence, status, turns; the reviewer's actions."""

    template_name = "problems/problem_detail.html"
    required_role = {"GET": Role.MEMBER, "POST": Role.REVIEWER}
    ACTIONS = ("rename", "status", "cause", "merge", "split")

    def resolve_tenant(self, request, **kwargs) -> None:
        super().resolve_tenant(request, **kwargs)
        self.problem = selectors.problem_get(project=self.project, problem_id=kwargs["problem"])

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
        )
        return context

    def post(self, request, org, project, problem):
        action = request.POST.get("action", "")
        actor = Actor.from_request(request)
        target = self.problem
        try:
            if action == "rename":
                backlog.problem_update(problem=self.problem, actor=actor, title=request.POST.get("title", ""))
                messages.success(request, "Renamed.")
            elif action == "status":
                backlog.problem_update(problem=self.problem, actor=actor, status=request.POST.get("status", ""))
                messages.success(request, "Status saved.")
            elif action == "cause":
                backlog.problem_cause_review(problem=self.problem, actor=actor, verdict=request.POST.get("verdict", ""))
                messages.success(request, "Cause reviewed.")
            elif action == "merge":
                into = selectors.problem_get_by_id(project=self.project, problem_id=request.POST.get("into"))
                target = backlog.problem_merge(problem=self.problem, into=into, actor=actor)
                messages.success(request, f"Merged #{self.problem.pk} into this problem.")
            elif action == "split":
                target = backlog.problem_split(
                    problem=self.problem, actor=actor, turn_ids=request.POST.getlist("turn_ids"),
                    title=request.POST.get("title", ""),
                )
                messages.success(request, f"Split {target.turn_count} turns off into this new problem.")
            else:
                return self.render_to_response(self.get_context_data(error="Unknown action."), status=400)
        except ServiceError as error:
            self.problem.refresh_from_db()
            return self.render_to_response(
                self.get_context_data(error=error.message, error_action=action), status=error.status
            )
        return redirect("problem_detail", org=org, project=project, problem=target.pk)
