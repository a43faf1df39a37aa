"""Experiments over the session API: ``/api/v1/orgs/<org>/projects/<project>/experiments[/<id>[/results|/results/upload|/compare]]``.

Members read (list, one experiment with its summary, its results, a comparison); reviewers
create experiments and upload outputs (token scope ``datasets``). The experiment in the URL is
resolved inside the URL's project first: another project's and a missing one are the same 404.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.errors import ValidationFailed
from apps.core.roles import Role
from apps.experiments import presenters, shapes
from apps.experiments.api_experiments import create_from_body
from apps.experiments.models import Experiment
from apps.experiments.selectors import compare as compare_selectors
from apps.experiments.selectors.experiments import experiment_get, results_of
from apps.experiments.services.experiments import results_upload
from apps.projects.tenancy import ProjectScopedViewSet

ERROR = OpenApiResponse(description="Error: {code, message, field}")
WRITE = "datasets"

RESULT_OUT = {
    "type": "object", "required": ["case_id", "output", "scores", "error", "latency_ms"],
    "properties": {"case_id": {"type": "string", "format": "uuid"}, "output": {"type": "string"},
                   "scores": {"type": "object"}, "error": {"type": "string"}, "latency_ms": {"type": "number", "nullable": True}},
}
RESULTS_OUT = {"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": RESULT_OUT}}}
COMPARE_OUT = {
    "type": "object", "required": ["baseline", "candidate", "scorers", "regressions", "improvements", "flipped"],
    "properties": {
        "baseline": {"type": "integer"}, "candidate": {"type": "integer", "nullable": True},
        "scorers": {"type": "array", "items": {"type": "string"}},
        "regressions": {"type": "integer"}, "improvements": {"type": "integer"},
        "flipped": {"type": "array", "items": {"type": "object", "properties": {
            "case_id": {"type": "string"}, "scorer": {"type": "string"}, "flip": {"type": "string"}}}},
    },
}


class ExperimentViewSet(ProjectScopedViewSet):
    model = Experiment
    pagination_class = None
    lookup_url_kwarg = "experiment"
    lookup_value_regex = "[0-9]{1,18}"
    required_role = {"list": Role.MEMBER, "retrieve": Role.MEMBER, "results": Role.MEMBER, "compare": Role.MEMBER,
                     "create": Role.REVIEWER, "upload": Role.REVIEWER}
    token_scope = {"create": WRITE, "upload": WRITE}

    def get_object(self):
        return experiment_get(project=self.project, experiment_id=self.kwargs["experiment"])

    @extend_schema(responses={200: shapes.EXPERIMENT_OUT})  # a list action: the schema is an array of these
    def list(self, request, org=None, project=None):
        from apps.experiments.selectors.experiments import experiment_list

        return Response([presenters.experiment_body(e) for e in experiment_list(project=self.project)[:500]])

    @extend_schema(request={"application/json": shapes.EXPERIMENT_IN}, responses={201: shapes.CREATED_OUT, 400: ERROR, 404: ERROR},
                   description="Create an experiment (same body as POST /api/v1/experiments).")
    def create(self, request, org=None, project=None):
        if not isinstance(request.data, dict):
            raise ValidationFailed("Send a JSON object.")
        experiment = create_from_body(project=self.project, body=request.data, created_by_id=request.user.pk,
                                      created_by_label=getattr(request.user, "email", ""))
        return Response({"id": experiment.pk}, status=201)

    @extend_schema(responses={200: shapes.EXPERIMENT_OUT})
    def retrieve(self, request, org=None, project=None, experiment=None):
        return Response(presenters.experiment_body(self.object))

    @extend_schema(methods=["GET"], responses={200: RESULTS_OUT}, description="Every result (first 5000), in upload order.")
    @action(detail=True, methods=["get"])
    def results(self, request, org=None, project=None, experiment=None):
        rows = results_of(experiment=self.object)[:5000]
        return Response({"results": [{"case_id": str(r.case_id), "output": r.output, "scores": r.scores, "error": r.error,
                                      "latency_ms": r.latency_ms} for r in rows]})

    @extend_schema(request={"application/json": shapes.RESULTS_IN}, responses={207: shapes.UPLOAD_OUT, 400: ERROR},
                   description="Upload outputs (per-item outcomes, as POST /api/v1/experiments/{id}/results).")
    @action(detail=True, methods=["post"], url_path="results/upload")
    def upload(self, request, org=None, project=None, experiment=None):
        if not isinstance(request.data, dict) or "results" not in request.data:
            raise ValidationFailed("Send {\"results\": [...]}.", field="results")
        return Response(results_upload(experiment=self.object, items=request.data["results"]).as_dict(), status=207)

    @extend_schema(
        parameters=[OpenApiParameter("with", {"type": "integer", "minimum": 1, "maximum": 9223372036854775807},
                                     description="The candidate experiment's id (default: the latest other experiment "
                                                 "on the same dataset version; none: an empty comparison)")],
        responses={200: COMPARE_OUT, 400: ERROR},
        description="Flipped cases between this experiment (baseline) and `with` (candidate): pass→fail first. "
                    "Different dataset versions: 400 `different_dataset_versions`.",
    )
    @action(detail=True, methods=["get"])
    def compare(self, request, org=None, project=None, experiment=None):
        raw = request.query_params.get("with")
        if raw is None:
            from apps.experiments.selectors.experiments import experiment_list

            candidate = experiment_list(project=self.project).filter(
                dataset=self.object.dataset, dataset_version=self.object.dataset_version).exclude(pk=self.object.pk).first()
            if candidate is None:
                return Response({"baseline": self.object.pk, "candidate": None, "scorers": [], "regressions": 0,
                                 "improvements": 0, "flipped": []})
        else:
            candidate = experiment_get(project=self.project, experiment_id=raw)
        found = compare_selectors.comparison(baseline=self.object, candidate=candidate)
        flipped = [{"case_id": row.case_id, "scorer": scorer, "flip": kind} for row in found.rows for scorer, kind in row.flips]
        return Response({"baseline": self.object.pk, "candidate": candidate.pk, "scorers": found.scorers,
                         "regressions": found.regressions, "improvements": found.improvements, "flipped": flipped})
