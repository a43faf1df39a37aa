"""Ingestion API (secret-key auth). Bodies are read raw and validated with msgspec structs
(apps.traces.schemas); DRF provides auth, the error format and the OpenAPI entry only."""

from __future__ import annotations

import msgspec
from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core import hooks
from apps.core.body import read_json
from apps.core.errors import ServiceError
from apps.core.ratelimit import enforce
from apps.projects.authentication import ApiKeyAuthentication, IsProjectKey
from apps.traces import openapi, schemas, selectors
from apps.traces.services.ingest import ingest_items

# ``(*, api_key, turn_id, user_id) -> str | None``: the signed feedback link of a stored turn.
# apps.feedback (a floor above) owns the links and registers it at ready().
FEEDBACK_URL_HOOK = "feedback.turn_url"
CONFLICT = OpenApiResponse(description="The id is already used by a different item (`id_conflict`)")
_FEEDBACK_OUT = {
    "type": "object",
    "required": ["id", "turn_id", "state"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "turn_id": {"type": "string", "format": "uuid"},
        "state": {"type": "string", "enum": ["attached", "waiting"]},
    },
}


class IngestView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsProjectKey]
    parser_classes: list = []
    error_statuses = (429,)  # the per-key rate limit below (apps.core.openapi documents it)
    rate_limit_bucket = "key"  # routes with their own per-key budget name another bucket

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        enforce(f"{self.rate_limit_bucket}:{request.auth.key_id}", limit=settings.INGEST_RATE_LIMIT_PER_SECOND, window=1)

    @property
    def project(self):
        return self.request.auth.project


def _single_error(outcome) -> ServiceError:
    error = ServiceError(outcome.message or "Invalid item.", code=outcome.code, field=_strip_body(outcome.field))
    error.status = outcome.status
    return error


def _strip_body(field_name: str | None) -> str | None:
    return field_name[len("body."):] if field_name and field_name.startswith("body.") else field_name


class TurnCreateView(IngestView):
    @extend_schema(
        operation_id="turns_create",
        request={"application/json": openapi.component(schemas.TurnIn)},
        responses={
            201: OpenApiResponse(response=openapi.component(schemas.TurnCreatedOut), description="Stored"),
            200: OpenApiResponse(
                response=openapi.component(schemas.TurnCreatedOut),
                description="The same id was already stored: same body as 201",
            ),
        },
        examples=[openapi.TURN_EXAMPLE],
        description=(
            "Log one turn. Idempotent by `id` within the key's project: a repeat answers 200 with the same "
            "body. Ids are per project: another project's turn with the same id is a different turn."
        ),
    )
    def post(self, request):
        body = read_json(request)
        if not isinstance(body, dict):
            raise ServiceError("Send one turn as a JSON object.", code="invalid")
        outcome = ingest_items(project=self.project, items=[{"type": "turn", "body": body}])[0]
        if outcome.status >= 400:
            raise _single_error(outcome)
        url = hooks.call(FEEDBACK_URL_HOOK, api_key=request.auth, turn_id=outcome.id, user_id=body.get("user_id") or "")
        return Response({"id": outcome.id, "feedback_url": url}, status=outcome.status)


class BatchIngestView(IngestView):
    @extend_schema(
        operation_id="ingest_batch",
        request={"application/json": openapi.batch_request_schema()},
        responses={207: OpenApiResponse(response=openapi.component(schemas.BatchOut))},
        description=(
            "Send turns, steps, signals and feedback in any order. Each item is validated on its own: "
            "a bad item never sinks the good ones. Item status: 201 stored, 200 already stored, "
            "202 stored and waiting for its turn, 400 rejected, 409 a feedback id this project already uses for "
            "another turn. Ids are per project: other projects' ids never conflict."
        ),
    )
    def post(self, request):
        body = read_json(request)
        try:
            batch = msgspec.convert(body, schemas.BatchIn)
        except msgspec.ValidationError as exc:
            message = str(exc)
            code = "too_large" if "length" in message and "<=" in message else "invalid"
            raise ServiceError(message, code="batch_too_long" if code == "too_large" else code, field="batch") from None
        outcomes = ingest_items(project=self.project, items=batch.batch)
        rejected = sum(1 for outcome in outcomes if outcome.status >= 400)
        return Response(
            {"accepted": len(outcomes) - rejected, "rejected": rejected, "results": [o.as_dict() for o in outcomes]},
            status=207,
        )


class FeedbackCreateView(IngestView):
    @extend_schema(
        operation_id="feedback_create",
        request={"application/json": openapi.component(schemas.FeedbackIn)},
        responses={
            201: OpenApiResponse(response=_FEEDBACK_OUT, description="Stored"),
            200: OpenApiResponse(response=_FEEDBACK_OUT, description="Updated"),
            202: OpenApiResponse(response=_FEEDBACK_OUT, description="Stored; the turn has not arrived yet"),
            409: CONFLICT,
        },
        description="Feedback from your backend. The turn may arrive later: the feedback is kept and attached.",
    )
    def post(self, request):
        body = read_json(request)
        if not isinstance(body, dict):
            raise ServiceError("Send one feedback as a JSON object.", code="invalid")
        outcome = ingest_items(project=self.project, items=[{"type": "feedback", "body": body}])[0]
        if outcome.status >= 400:
            raise _single_error(outcome)
        state = "waiting" if outcome.status == 202 else "attached"
        return Response({"id": outcome.id, "turn_id": str(body.get("turn_id")), "state": state}, status=outcome.status)


class TurnDetailView(IngestView):
    @extend_schema(
        operation_id="turns_retrieve",
        responses={200: OpenApiResponse(response={"type": "object"}, description="The turn with steps, signals and feedback")},
    )
    def get(self, request, turn):
        turn = selectors.turn_get(project=self.project, turn_id=turn)
        if turn is None:
            raise Http404("No such turn.")
        return Response(selectors.turn_as_dict(turn))
