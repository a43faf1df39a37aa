"""The "End users" page of a project (admins): look an end-user id up, see what is held by kind,
download the export, delete it all (typing the id again to confirm). The same selectors and
services as the API; the id travels in the query string or the form, never in the path."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import Http404, HttpResponseBadRequest
from django.views.generic import TemplateView

from apps.core.audit import Actor
from apps.core.errors import ServiceError
from apps.core.roles import Role
from apps.governance.end_users import selectors, services
from apps.governance.end_users.api import export_response
from apps.projects.tenancy import ProjectViewMixin

KIND_LABELS = {
    "turns": "Turns", "steps": "Steps", "signals": "Signals", "feedback": "Feedback", "waiting": "Waiting for their turn",
    "detection_passes": "Detection passes", "judge_verdicts": "LLM judge verdicts", "review_items": "Review items", "decisions": "Review decisions",
    "problem_memberships": "Problem memberships", "dataset_cases": "Dataset cases",
}


class EndUserView(ProjectViewMixin, TemplateView):
    template_name = "governance/end_users.html"
    required_role = {"GET": Role.ADMIN, "POST": Role.ADMIN}

    def _lookup(self, raw: str) -> dict:
        if not raw:
            return {}
        try:
            end_user_id = selectors.end_user_id_clean(raw)
        except ServiceError as error:
            return {"error": error.message}
        counts = selectors.end_user_counts(project=self.project, end_user_id=end_user_id)
        return {
            "end_user_id": end_user_id,
            "counts": [(KIND_LABELS[kind], counts[kind]) for kind in selectors.KINDS],
            "held": any(counts.values()),
            "export_query": urlencode({"id": end_user_id, "download": "json"}),
            "history": selectors.end_user_history(organization=self.organization, end_user_id=end_user_id),
        }

    def get(self, request, *args, **kwargs):
        """``?id=…&download=json`` streams the export (404 when nothing is held); else the page."""
        if request.GET.get("download") == "json":
            try:
                return export_response(organization=self.organization, projects=[self.project],
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
        context["query"] = query
        context["recent"] = selectors.end_user_requests_recent(organization=self.organization)
        return context

    def post(self, request, org, project):
        raw = request.POST.get("id", "")
        lookup = self._lookup(raw)
        if request.POST.get("confirm", "") != raw or not raw:
            lookup["error"] = "Type the end-user id exactly as shown to confirm the deletion."
            return self.render_to_response(self.get_context_data(lookup=lookup), status=400)
        try:
            result = services.end_user_delete(
                organization=self.organization, projects=[self.project], end_user_id=lookup["end_user_id"],
                actor=Actor.from_request(request),
            )
        except ServiceError as error:
            lookup["error"] = error.message
            return self.render_to_response(self.get_context_data(lookup=lookup), status=error.status)
        deleted = [(KIND_LABELS.get(kind, kind.replace("_", " ").capitalize()), count) for kind, count in result["deleted"].items()]
        return self.render_to_response(self.get_context_data(lookup=self._lookup(raw), deleted=deleted))
