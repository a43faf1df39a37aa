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
from apps.core.errors import ValidationFailed
from apps.experiments import shapes
from apps.experiments.api_keys import _key_author
from apps.experiments.models import Change
from apps.experiments.presenters import change_body
from apps.experiments.selectors import changes as change_selectors
from apps.experiments.services import changes as change_services
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
CHANGE = shapes.CHANGE_OUT
CHANGE_IN = {"type": "object", "required": ["title", "prompt", "candidate"], "properties": {
    "title": {"type": "string", "minLength": 1, "maxLength": 200}, "prompt": {"type": "string"},
    "candidate": {"type": "integer", "minimum": 1}, "baseline": {"type": "integer", "minimum": 1},
    "problems": {"type": "array", "items": {"type": "integer"}}, "description": {"type": "string"}, "label": {"type": "string"}}}


def change_create_from_body(*, project, body, author) -> Change:
    """``CHANGE_IN`` (the key and session routes' body) → ``change_create``; an unknown field is 400."""
    if not isinstance(body, dict):
        raise ValidationFailed("Send a JSON object.", code="invalid")
    extra = sorted(set(body) - set(CHANGE_IN["properties"]))
    if extra:
        raise ValidationFailed(f"Unknown field {extra[0]!r}.", field=extra[0])
    return change_services.change_create(
        project=project, author=author, title=body.get("title"), prompt=body.get("prompt"),
        candidate=body.get("candidate"), baseline=body.get("baseline"), problems=body.get("problems"),
        description=body.get("description", ""), label=body.get("label", "production"))


def _object(request) -> dict:
    body = read_json(request)
    if not isinstance(body, dict):
        raise ValidationFailed("Send a JSON object.", code="invalid")
    return body


class _KeyView(IngestView):
    rate_limit_bucket = "validations"

    def change(self, pk) -> Change:
        return change_selectors.change_get(project=self.project, change_id=pk)


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
        return Response(validation_body(change_selectors.validation_get(project=self.project, validation_id=validation)))


class ChangeListView(_KeyView):
    @extend_schema(operation_id="changes_list", responses={200: {"type": "array", "items": CHANGE}}, description="The project's changes.")
    def get(self, request):
        found = list(change_selectors.change_list(project=self.project)[:200])
        latest = change_selectors.change_latest_validations(found)
        return Response([change_body(c, latest=latest.get(c.pk)) for c in found])

    @extend_schema(operation_id="changes_create", request={"application/json": CHANGE_IN},
                   responses={201: CHANGE, 404: OpenApiResponse(description="A prompt, version or problem not in this project")},
                   description="Make a change: a candidate prompt version for backlog problems (baseline: the `production` holder).")
    def post(self, request):
        change = change_create_from_body(project=self.project, body=_object(request), author=_key_author(request))
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
