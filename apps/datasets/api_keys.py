"""Datasets for agents and CI: ``/api/v1/datasets…`` with a project API key (the key names the
project). Bodies are read raw (``apps.core.body.read_json``) like the ingestion routes."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from apps.core.body import read_json
from apps.core.errors import ServiceError, ValidationFailed
from apps.datasets import presenters
from apps.datasets import schemas as shapes
from apps.datasets.selectors import datasets as selectors
from apps.datasets.selectors.diff import version_diff
from apps.datasets.selectors.export import FORMATS, export_bytes, export_filename
from apps.datasets.services import datasets as dataset_services
from apps.datasets.services.batch import cases_add_batch
from apps.datasets.services.changes import Author
from apps.core.audit import Actor
from apps.traces.api import IngestView

TAG = ["datasets (API key)"]


def _author(request) -> Author:
    return Author(user=None, label=f"API key {request.auth.name}"[:254])


def _actor(request) -> Actor:
    return Actor(user=None, ip_address=Actor.from_request(request).ip_address)


def _body(request) -> dict:
    body = read_json(request)
    if not isinstance(body, dict):
        raise ServiceError("Send a JSON object.", code="invalid")
    return body


class DatasetListView(IngestView):
    @extend_schema(operation_id="datasets_list", tags=TAG, responses={200: shapes.DATASET_LIST})
    def get(self, request):
        """The key's project's datasets, archived ones included (``archived: true``)."""
        datasets = selectors.dataset_list(project=self.project)[:1000]
        return Response({"results": [presenters.dataset_out(dataset) for dataset in datasets]})

    @extend_schema(
        operation_id="datasets_create", tags=TAG, request={"application/json": shapes.DATASET_IN},
        responses={201: shapes.DATASET, 409: OpenApiResponse(description="`duplicate_name`")},
    )
    def post(self, request):
        """Create a dataset ``{"name", "description"?}`` (409 ``duplicate_name`` if the name is taken)."""
        body = _body(request)
        unknown = sorted(set(body) - {"name", "description"})
        if unknown:
            raise ValidationFailed(f"Unknown field {unknown[0]!r}.", field=unknown[0])
        dataset = dataset_services.dataset_create(
            project=self.project, name=body.get("name"), description=body.get("description", ""), actor=_actor(request),
        )
        return Response(presenters.dataset_out(dataset), status=201)


class DatasetKeyView(IngestView):
    def dataset(self, name: str):
        return selectors.dataset_get_by_name(project=self.project, name=name)


class DatasetDetailView(DatasetKeyView):
    @extend_schema(operation_id="datasets_retrieve", tags=TAG, responses={200: shapes.DATASET_DETAIL})
    def get(self, request, name):
        """A dataset with its latest version number, case count and versions (newest first)."""
        dataset = self.dataset(name)
        versions = selectors.version_list(dataset=dataset)[:100]
        return Response({**presenters.dataset_out(dataset), "versions": [presenters.version_out(v) for v in versions]})


class DatasetCasesView(DatasetKeyView):
    @extend_schema(
        operation_id="datasets_cases_add", tags=TAG, request={"application/json": shapes.CASES_IN},
        responses={
            201: OpenApiResponse(response=shapes.CASES_ADDED, description="A new version holds the added cases"),
            200: OpenApiResponse(response=shapes.CASES_ADDED, description="Nothing new (every turn already a case, or every item rejected): no version"),
            409: OpenApiResponse(description="`dataset_archived`"),
        },
    )
    def post(self, request, name):
        """Add cases in one new version. Each item is a case (``input`` required) or
        ``{"turn_id", "split"?, "tags"?}`` (the turn's content and latest confirmed correction are
        copied). Per item: 201 added, 200 the turn is already a case (one case per turn), 400
        invalid, 404 no such turn in this project."""
        dataset = self.dataset(name)
        body = _body(request)
        unknown = sorted(set(body) - {"cases", "message"})
        if unknown:
            raise ValidationFailed(f"Unknown field {unknown[0]!r}.", field=unknown[0])
        result, results = cases_add_batch(
            dataset=dataset, author=_author(request), items=body.get("cases"), message=body.get("message") or "",
        )
        dataset.refresh_from_db()
        payload = {
            "version": result.number or dataset.latest_version or None, "added": result.added,
            "rejected": sum(1 for r in results if r["status"] >= 400), "results": results,
        }
        return Response(payload, status=201 if result.version else 200)


def _version(dataset, raw) -> int:
    return selectors.version_number_resolve(dataset=dataset, raw=raw)


class VersionCasesView(DatasetKeyView):
    @extend_schema(
        operation_id="datasets_version_cases", tags=TAG,
        parameters=shapes.case_page_parameters(default_limit=100),
        responses={200: shapes.CASE_PAGE},
    )
    def get(self, request, name, number):
        """One page of a version's cases in dataset order; follow ``next`` (or pass ``cursor``)."""
        dataset = self.dataset(name)
        version = _version(dataset, number)
        limit = selectors.limit_clean(request.query_params.get("limit"), default=100)
        after = presenters.cursor_decode(request.query_params.get("cursor"))
        rows, last = selectors.case_page(
            dataset=dataset, number=version, after=after, limit=limit, **presenters.filters_from_query(request.query_params)
        )
        cursor = presenters.cursor_encode(last)
        query = request.query_params.copy()
        if cursor:
            query["cursor"] = cursor
        return Response({
            "version": version, "results": presenters.cases_out(self.project, rows), "cursor": cursor,
            "next": request.build_absolute_uri(f"{request.path}?{query.urlencode()}") if cursor else None,
        })


class FormatParameterMixin:
    """``?format=`` names the export format here, not DRF's renderer override (which would 404)."""

    def perform_content_negotiation(self, request, force=False):
        renderer = self.get_renderers()[0]
        return renderer, renderer.media_type


class VersionExportView(FormatParameterMixin, DatasetKeyView):
    @extend_schema(
        operation_id="datasets_version_export", tags=TAG,
        parameters=[OpenApiParameter("format", str, enum=list(FORMATS), description="Default jsonl")],
        responses=shapes.EXPORT_RESPONSES,
    )
    def get(self, request, name, number):
        """Stream version ``number`` as JSONL, CSV or OpenAI chat fine-tuning JSONL (constant memory)."""
        dataset = self.dataset(name)
        version = _version(dataset, number)
        return export_response(dataset=dataset, version=version, fmt=request.query_params.get("format", "jsonl"))


def export_response(*, dataset, version: int, fmt: str) -> StreamingHttpResponse:
    if fmt not in FORMATS:
        raise ValidationFailed("format is jsonl, csv or openai.", field="format")
    content_type = FORMATS[fmt] + ("; charset=utf-8" if fmt == "csv" else "")
    response = StreamingHttpResponse(export_bytes(dataset=dataset, number=version, fmt=fmt), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{export_filename(dataset=dataset, number=version, fmt=fmt)}"'
    response["X-Dataset-Version"] = str(version)
    return response


def diff_versions(dataset, params) -> dict:
    """``from`` and ``to`` default to the latest version and the one before it."""
    for key in ("from", "to"):
        if key in params and not params[key].isdigit():
            raise ValidationFailed(f"'{key}' must be a version number.", field=key)
    limit = selectors.limit_clean(params.get("limit"), default=500)
    second = selectors.version_number_resolve(dataset=dataset, raw=params.get("to"))
    first = selectors.version_get(dataset=dataset, number=params.get("from") or max(second - 1, 1)).number
    second = selectors.version_get(dataset=dataset, number=second).number
    return version_diff(dataset=dataset, from_version=first, to_version=second, limit=limit).as_dict()


class DatasetDiffView(DatasetKeyView):
    @extend_schema(
        operation_id="datasets_diff", tags=TAG,
        parameters=shapes.diff_parameters(),
        responses={200: shapes.DIFF},
    )
    def get(self, request, name):
        """Cases added, removed and changed (field by field) from version ``from`` to ``to``."""
        return Response(diff_versions(self.dataset(name), request.query_params))
