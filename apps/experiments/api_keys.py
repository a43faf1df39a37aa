"""Prompts for agents and CI, with the project API key (the key names the project):

- ``GET /api/v1/prompts/{name}?label=production`` (or ``?version=N``; neither: the latest) → the
  version with a strong ``ETag``; ``If-None-Match`` with it → 304. Served from the resolved-prompt
  cache (apps.experiments.cache), so it costs one key lookup and one Redis round trip.
- ``POST /api/v1/prompts/{name}/versions`` → 201 ``{"name", "version"}`` (makes the prompt if new).
- ``PUT /api/v1/prompts/{name}/labels/{label}`` ``{"version": N}`` → moves an unprotected label
  (a protected one is 403 ``label_protected``; nothing changes).
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from apps.core.audit import Actor
from apps.core.body import read_json
from apps.core.errors import ValidationFailed
from apps.core.http import client_ip
from apps.experiments import validation
from apps.experiments.api import VERSION_NUMBER, _moved_body
from apps.experiments.models import LABEL_PATTERN
from apps.experiments.selectors import prompts as selectors
from apps.experiments.serializers import LabelMovedOut, LabelMoveIn, ResolvedOut, VersionCreatedOut, VersionIn
from apps.experiments.services import labels as label_services
from apps.experiments.services.prompts import Author, prompt_version_create
from apps.traces.api import IngestView


def _key_author(request) -> Author:
    key = request.auth
    return Author(actor=Actor(user=None, ip_address=client_ip(request)), label=f"API key {key.name} ({key.key_id})")


def _body(request) -> dict:
    body = read_json(request)
    if not isinstance(body, dict):
        raise ValidationFailed("Send a JSON object.", code="invalid")
    return body


def _etag_matches(header: str, etag: str) -> bool:
    """``If-None-Match`` uses the weak comparison (RFC 9110 §13.1.2): ``W/`` prefixes are ignored."""
    if header.strip() == "*":
        return True
    return any(candidate.strip().removeprefix("W/") == etag for candidate in header.split(","))


class _PromptKeyView(IngestView):
    rate_limit_bucket = "prompts"


class PromptFetchView(_PromptKeyView):
    @extend_schema(
        operation_id="prompts_fetch",
        parameters=[
            OpenApiParameter("label", {"type": "string", "pattern": f"^{LABEL_PATTERN}$"},
                             description="A label, e.g. production (not with `version`: both are 400 `invalid`)"),
            OpenApiParameter("version", VERSION_NUMBER, description="A version number (instead of a label)"),
            OpenApiParameter("If-None-Match", str, location=OpenApiParameter.HEADER, description="An ETag from an earlier answer"),
        ],
        responses={200: ResolvedOut, 304: OpenApiResponse(description="Not modified: the ETag still names this answer")},
        description="The prompt version a label (or a number; neither: the latest) names, with a strong ETag.",
    )
    def get(self, request, prompt):
        label, number = request.query_params.get("label"), request.query_params.get("version")
        if label is not None and number is not None:
            raise ValidationFailed("Ask for a label or a version, not both.", code="invalid", field="label")
        if label is not None:
            label = validation.label_name(label)
        if number is not None:
            number = validation.version_number(number)
        resolved = selectors.prompt_resolve(project=self.project, name=prompt, label=label, number=number)
        headers = {"ETag": resolved.etag, "Cache-Control": "private, no-cache"}
        if _etag_matches(request.headers.get("If-None-Match", ""), resolved.etag):
            return HttpResponse(status=304, headers=headers)
        return HttpResponse(resolved.body, content_type="application/json", headers=headers)


class PromptVersionCreateView(_PromptKeyView):
    @extend_schema(
        operation_id="prompts_versions_create",
        request={"application/json": VersionIn},
        responses={201: VersionCreatedOut},
        description="Create the next version of the prompt (the prompt too, if new). Invalid tools: 400 `invalid_tools`.",
    )
    def post(self, request, prompt):
        data = VersionIn(data=_body(request))
        data.is_valid(raise_exception=True)
        version = prompt_version_create(project=self.project, name=prompt, author=_key_author(request), **data.validated_data)
        return Response({"name": version.prompt.name, "version": version.number}, status=201)


class PromptLabelMoveView(_PromptKeyView):
    @extend_schema(
        operation_id="prompts_labels_move",
        request={"application/json": LabelMoveIn},
        responses={200: LabelMovedOut, 403: OpenApiResponse(description="The label is protected (`label_protected`)")},
        description="Point an unprotected label at a version of this prompt (made if new). "
                    "A protected label is 403 `label_protected`; another prompt's version does not exist here (404).",
    )
    def put(self, request, prompt, label):
        data = LabelMoveIn(data=_body(request))
        data.is_valid(raise_exception=True)
        found = selectors.prompt_get(project=self.project, name=prompt)
        moved, move = label_services.prompt_label_move(
            prompt=found, name=label, version=data.validated_data["version"], author=_key_author(request), role=None,
        )
        return Response(_moved_body(found, moved, move))
