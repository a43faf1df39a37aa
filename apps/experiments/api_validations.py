"""Validations and changes for agents and CI, with the project API key (the key names the project).

- ``POST /api/v1/validations`` (the pinned offline or online body) → 202 ``{"id", "status"}``;
  the same inputs again → 202 with the same id (no second row).
- ``GET /api/v1/validations/{id}`` → the pinned report shape.
- ``POST /api/v1/changes`` ``{"title", "prompt", "candidate", "baseline"?, "problems"?, "description"?}`` → 201;
  ``GET /api/v1/changes`` / ``GET /api/v1/changes/{id}``;
  ``POST /api/v1/changes/{id}/promote`` → 200, or 409 ``not_validated`` without a ship verdict.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from apps.core.body import read_json
from apps.core.errors import NotFound, ValidationFailed
from apps.experiments.api_keys import _key_author
from apps.experiments.models import Change, Regression, Validation
from apps.experiments.services import changes as change_services
from apps.experiments.services.changes import change_problem_ids
from apps.experiments.services.validations import validation_body, validation_request
from apps.traces.api import IngestView

OBJECT = {"type": "object"}
VALIDATION_IN = {
    "oneOf": [
        {"type": "object", "required": ["kind", "baseline", "candidate"], "properties": {
            "kind": {"enum": ["offline"]}, "baseline": {"type": "integer", "minimum": 1}, "candidate": {"type": "integer", "minimum": 1},
            "metrics": {"type": "array", "items": {}}, "alpha": {"type": "number"}, "change": {"type": "integer"}}},
        {"type": "object", "required": ["kind", "baseline", "candidate", "target"], "properties": {
            "kind": {"enum": ["online"]}, "baseline": OBJECT, "candidate": OBJECT, "target": OBJECT,
            "guardrails": {"type": "array", "items": OBJECT}, "since": {"type": "string", "format": "date-time"},
            "until": {"type": "string", "format": "date-time"}, "alpha": {"type": "number"},
            "min_detectable_effect": {"type": "number"}, "power": {"type": "number"}, "baseline_rate": {"type": "number"},
            "design": {"enum": ["fixed", "sequential"]}, "change": {"type": "integer"}}},
    ],
}
ACCEPTED = {"type": "object", "required": ["id", "status"], "properties": {"id": {"type": "integer"}, "status": {"type": "string"}}}
REPORT = {"type": "object", "required": ["id", "kind", "status", "verdict", "metrics", "explanation"], "properties": {
    "id": {"type": "integer"}, "kind": {"enum": ["offline", "online"]}, "status": {"enum": ["pending", "running", "done", "failed"]},
    "verdict": {"enum": ["ship", "hold", "inconclusive", "running"]}, "metrics": {"type": "array", "items": OBJECT},
    "flipped": {"type": "array", "items": OBJECT}, "sample_needed": {"type": "integer", "nullable": True},
    "explanation": {"type": "string"}}}
CHANGE = {"type": "object", "properties": {"id": {"type": "integer"}, "title": {"type": "string"}, "status": {"type": "string"}}}
CHANGE_IN = {"type": "object", "required": ["title", "prompt", "candidate"], "properties": {
    "title": {"type": "string", "minLength": 1, "maxLength": 200}, "prompt": {"type": "string"},
    "candidate": {"type": "integer", "minimum": 1}, "baseline": {"type": "integer", "minimum": 1},
    "problems": {"type": "array", "items": {"type": "integer"}}, "description": {"type": "string"}, "label": {"type": "string"}}}


def change_body(change: Change) -> dict:
    latest = change_services.change_latest_validation(change)
    return {
        "id": change.pk, "title": change.title, "description": change.description, "status": change.status,
        "prompt": change.candidate.prompt.name, "candidate": change.candidate.number, "baseline": change.baseline.number,
        "label": change.label, "problems": change_problem_ids(change),
        "latest_validation": {"id": latest.pk, "verdict": latest.verdict} if latest else None,
        "promoted_at": change.promoted_at.isoformat() if change.promoted_at else None,
        "regressions": [{"id": r.pk, "signal": r.signal, "explanation": r.explanation, "resolved": r.resolved_at is not None}
                        for r in Regression.objects.for_project(change.project_id).filter(change=change).order_by("id")],
    }


def _object(request) -> dict:
    body = read_json(request)
    if not isinstance(body, dict):
        raise ValidationFailed("Send a JSON object.", code="invalid")
    return body


def _pk(value) -> int:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise NotFound("Not found.") from None
    if not 1 <= pk <= 2**63 - 1:
        raise NotFound("Not found.")
    return pk


class _KeyView(IngestView):
    rate_limit_bucket = "validations"

    def change(self, pk) -> Change:
        found = (Change.objects.for_project(self.project).select_related("candidate__prompt", "baseline__prompt")
                 .filter(pk=_pk(pk)).first())
        if found is None:
            raise NotFound("No such change.")
        return found


class ValidationCreateView(_KeyView):
    @extend_schema(operation_id="validations_create", request={"application/json": VALIDATION_IN},
                   responses={202: ACCEPTED, 404: OpenApiResponse(description="An experiment or change not in this project")},
                   description="Start an offline or online validation (pinned bodies, README). Different dataset versions: 400 "
                               "`dataset_version_mismatch`; candidate equal to baseline: 400 `same_arms`; α outside (0, 0.5]: "
                               "400 `invalid_alpha`; a negative tolerance: 400 `invalid_tolerance`.")
    def post(self, request):
        validation, _ = validation_request(project=self.project, body=_object(request), author_label=_key_author(request).label)
        return Response({"id": validation.pk, "status": validation.status}, status=202)


class ValidationDetailView(_KeyView):
    @extend_schema(operation_id="validations_retrieve", responses={200: REPORT}, description="A validation's report.")
    def get(self, request, validation):
        found = Validation.objects.for_project(self.project).filter(pk=_pk(validation)).first()
        if found is None:
            raise NotFound("No such validation.")
        return Response(validation_body(found))


class ChangeListView(_KeyView):
    @extend_schema(operation_id="changes_list", responses={200: {"type": "array", "items": CHANGE}}, description="The project's changes.")
    def get(self, request):
        found = Change.objects.for_project(self.project).select_related("candidate__prompt", "baseline__prompt").order_by("-created_at", "-id")[:200]
        return Response([change_body(c) for c in found])

    @extend_schema(operation_id="changes_create", request={"application/json": CHANGE_IN},
                   responses={201: CHANGE, 404: OpenApiResponse(description="A prompt, version or problem not in this project")},
                   description="Make a change: a candidate prompt version for backlog problems (baseline: the `production` holder).")
    def post(self, request):
        body = _object(request)
        extra = sorted(set(body) - set(CHANGE_IN["properties"]))
        if extra:
            raise ValidationFailed(f"Unknown field {extra[0]!r}.", field=extra[0])
        change = change_services.change_create(
            project=self.project, author=_key_author(request), title=body.get("title"), prompt=body.get("prompt"),
            candidate=body.get("candidate"), baseline=body.get("baseline"), problems=body.get("problems"),
            description=body.get("description", ""), label=body.get("label", "production"))
        return Response(change_body(change), status=201)


class ChangeDetailView(_KeyView):
    @extend_schema(operation_id="changes_retrieve", responses={200: CHANGE}, description="A change with its latest verdict.")
    def get(self, request, change):
        return Response(change_body(self.change(change)))


class ChangePromoteView(_KeyView):
    @extend_schema(operation_id="changes_promote", request=None, responses={200: CHANGE, 409: OpenApiResponse(description="`not_validated`")},
                   description="Move the label to the candidate; only with a ship verdict (an API key cannot override).")
    def post(self, request, change):
        promoted = change_services.change_promote(change=self.change(change), author=_key_author(request), role=None)
        return Response(change_body(promoted))
