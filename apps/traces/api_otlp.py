"""OTLP/HTTP trace ingestion: ``POST /api/v1/otlp/v1/traces`` (DESIGN.md "HTTP contract").

Point any OpenTelemetry exporter at ``…/api/v1/otlp`` with ``Authorization: Bearer <secret key>``.
The 200 ``ExportTraceServiceResponse`` is sent only after the spans are committed.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation

from apps.core.body import read_body
from apps.core.collector import collector_paused
from apps.traces.api import IngestView
from apps.traces.otlp import codec as otlp_codec
from apps.traces.otlp.ingest import otlp_traces_ingest

_BINARY = {"type": "string", "format": "binary", "description": "A protobuf-encoded ExportTraceServiceRequest"}
_BINARY_RESPONSE = {
    "type": "string", "format": "binary", "description": "A protobuf-encoded ExportTraceServiceResponse",
}
_JSON_REQUEST = {
    "type": "object",
    "description": (
        "An ExportTraceServiceRequest in OTLP JSON: camelCase field names, hex traceId/spanId/"
        "parentSpanId, enums as integers or names, 64-bit integers as strings or numbers."
    ),
    "properties": {"resourceSpans": {"type": "array", "items": {"type": "object"}}},
}
_COMMITTED = (
    "Committed. ExportTraceServiceResponse in the request's encoding; partialSuccess counts the spans "
    "that were refused and says why."
)
_JSON_RESPONSE = {
    "type": "object",
    "properties": {
        "partialSuccess": {
            "type": "object",
            "properties": {"rejectedSpans": {"type": "integer"}, "errorMessage": {"type": "string"}},
        }
    },
}


class _JsonErrors(BaseContentNegotiation):
    """Errors are JSON whatever ``Accept`` says (exporters may ask for protobuf only)."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class OtlpTracesView(IngestView):
    content_negotiation_class = _JsonErrors

    @extend_schema(
        operation_id="otlp_traces_export",
        request={otlp_codec.PROTOBUF: _BINARY, otlp_codec.JSON: _JSON_REQUEST},
        responses={
            (200, otlp_codec.PROTOBUF): OpenApiResponse(response=_BINARY_RESPONSE, description=_COMMITTED),
            (200, otlp_codec.JSON): OpenApiResponse(response=_JSON_RESPONSE, description=_COMMITTED),
        },
        description=(
            "OTLP/HTTP trace export (protobuf or JSON, `Content-Encoding: gzip` allowed). A trace's root "
            "span becomes a turn whose id is the 16-byte trace id read as a UUID; its other spans become "
            "steps; `agentloop.signal.<kind>` attributes become signals. OpenInference and OpenTelemetry "
            "GenAI attributes fill the turn's question, answer, model, session and user."
        ),
    )
    def post(self, request):
        media = otlp_codec.media_type(request)
        body = read_body(request)
        with collector_paused():
            result = otlp_traces_ingest(project=self.project, decoded=otlp_codec.decode(body, media))
        body = otlp_codec.encode_response(media, rejected=result.rejected, error_message=result.error_message)
        return HttpResponse(body, content_type=media, status=200)
