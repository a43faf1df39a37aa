"""The "End users" pages (admins), of one project and of the whole organization: look an end-user
id up, see what is held by kind (and, organization-wide, in which project), download the export,
delete it all (typing the id again to confirm). The same selectors and services as the API; the
id travels in the query string or the form, never in the path."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import Http404, HttpResponseBadRequest
from django.views.generic import TemplateView

from apps.core.audit import Actor
from apps.core.errors import ServiceError
from apps.core.roles import Role
from apps.governance.end_users import selectors, services
from apps.governance.end_users.api import export_response
from apps.organizations.tenancy import OrganizationViewMixin
from apps.projects.selectors import project_list_visible
from apps.projects.tenancy import ProjectViewMixin

KIND_LABELS = {
    "turns": "Turns", "steps": "Steps", "signals": "Signals", "feedback": "Feedback", "waiting": "Waiting for their turn",
    "detection_passes": "Detection passes", "judge_verdicts": "LLM judge verdicts", "review_items": "Review items", "decisions": "Review decisions",
    "problem_memberships": "Problem memberships", "dataset_cases": "Dataset cases",
}


class _EndUserPage(TemplateView):
    """What both pages share; ``end_user_projects()`` names where the page looks."""

    template_name = "governance/end_users.html"
    scope = "project"

    def end_user_projects(self) -> list:
        raise NotImplementedError

    def _lookup(self, raw: str) -> dict:
        if not raw:
            return {}
        try:
            end_user_id = selectors.end_user_id_clean(raw)
        except ServiceError as error:
            return {"error": error.message}
        held = {project: selectors.end_user_counts(project=project, end_user_id=end_user_id) for project in self.end_user_projects()}
        totals = {kind: sum(counts[kind] for counts in held.values()) for kind in selectors.KINDS}
        return {
            "end_user_id": end_user_id,
            "counts": [(KIND_LABELS[kind], totals[kind]) for kind in selectors.KINDS],
            "projects": [(project, counts["turns"], sum(counts.values())) for project, counts in held.items() if any(counts.values())],
            "held": any(totals.values()),
            "export_query": urlencode({"id": end_user_id, "download": "json"}),
            "history": selectors.end_user_history(organization=self.organization, end_user_id=end_user_id),
        }

    def get(self, request, *args, **kwargs):
        """``?id=…&download=json`` streams the export (404 when nothing is held); else the page."""
        if request.GET.get("download") == "json":
            try:
                return export_response(organization=self.organization, projects=self.end_user_projects(),
                                       end_user_id=request.GET.get("id", ""), actor=Actor.from_request(request))
            except ServiceError as error:
                if error.status == 404:
                    raise Http404(error.message) from None
                return HttpResponseBadRequest(error.message)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        query = self.request.GET.get("id", "")
        context.setdefault("lookup", self._lookup(query))
        context.update(query=query, scope=self.scope,
                       recent=selectors.end_user_requests_recent(organization=self.organization))
        return context

    def post(self, request, *args, **kwargs):
        raw = request.POST.get("id", "")
        lookup = self._lookup(raw)
        if request.POST.get("confirm", "") != raw or not raw:
            lookup["error"] = "Type the end-user id exactly as shown to confirm the deletion."
            return self.render_to_response(self.get_context_data(lookup=lookup), status=400)
        try:
            result = services.end_user_delete(
                organization=self.organization, projects=self.end_user_projects(), end_user_id=lookup["end_user_id"],
                actor=Actor.from_request(request),
            )
        except ServiceError as error:
            lookup["error"] = error.message
            return self.render_to_response(self.get_context_data(lookup=lookup), status=error.status)
        deleted = [(KIND_LABELS.get(kind, kind.replace("_", " ").capitalize()), count) for kind, count in result["deleted"].items()]
        return self.render_to_response(self.get_context_data(lookup=self._lookup(raw), deleted=deleted))


ADMINS_ONLY = {"GET": Role.ADMIN, "POST": Role.ADMIN}


class EndUserView(ProjectViewMixin, _EndUserPage):
    required_role = ADMINS_ONLY

    def end_user_projects(self) -> list:
        return [self.project]


class OrganizationEndUserView(OrganizationViewMixin, _EndUserPage):
    """Across every project of the organization (an admin sees them all, restricted ones included)."""

    required_role = ADMINS_ONLY
    scope = "organization"

    def end_user_projects(self) -> list:
        return list(project_list_visible(organization=self.organization, membership=self.membership))
