"""Datasets over the management API: ``/api/v1/orgs/<org>/projects/<project>/datasets…``.

Members read; reviewers and admins create, rename, archive and change cases (each change a new
version); admins set a queue's auto-add rule. The dataset in the URL is resolved in the project
(another project's dataset and a missing one are the same 404).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.audit import Actor
from apps.core.errors import ValidationFailed
from apps.core.roles import Role
from apps.datasets import presenters
from apps.datasets import schemas as shapes
from apps.datasets.api_keys import FormatParameterMixin, diff_versions, export_response
from apps.datasets.models import Dataset
from apps.datasets.selectors import datasets as selectors
from apps.datasets.selectors.export import FORMATS
from apps.datasets.services import datasets as dataset_services
from apps.datasets.services import integrations
from apps.datasets.services.batch import cases_add_batch
from apps.datasets.services.changes import Author, case_edit, cases_move, cases_remove, edit_changes_clean
from apps.projects.tenancy import ProjectScopedViewSet
from apps.review.selectors import review_queue_list

CASE_PATH = r"versions/(?P<number>[0-9]{1,9})/cases"
WRITE = "datasets"
FORMAT_NAMES = list(FORMATS)


class DatasetIn(serializers.Serializer):
    name = serializers.CharField(max_length=100, trim_whitespace=False)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True, trim_whitespace=False)


class DatasetPatchIn(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, trim_whitespace=False)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True, trim_whitespace=False)
    archived = serializers.BooleanField(required=False)


class CasesIn(serializers.Serializer):
    cases = serializers.ListField(child=serializers.JSONField(), min_length=1, max_length=1000)
    message = serializers.CharField(max_length=500, required=False, allow_blank=True)


class CaseIdsIn(serializers.Serializer):
    case_ids = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=10000)
    message = serializers.CharField(max_length=500, required=False, allow_blank=True)
    version = serializers.IntegerField(min_value=0, required=False, help_text="The version the change is based on; an older one is `version_immutable`")


class MoveIn(CaseIdsIn):
    split = serializers.CharField(max_length=64, allow_blank=True)


class CasePatchIn(serializers.Serializer):
    changes = serializers.DictField(child=serializers.JSONField(), help_text="Case fields to change")
    message = serializers.CharField(max_length=500, required=False, allow_blank=True)


class AutoAddIn(serializers.Serializer):
    queue = serializers.IntegerField(min_value=1)
    split = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    enabled = serializers.BooleanField(default=True)


CHANGE_OUT = {
    "type": "object", "required": ["version", "added", "removed", "changed"],
    "properties": {"version": {"type": "integer", "nullable": True}, "added": {"type": "integer"},
                   "removed": {"type": "integer"}, "changed": {"type": "integer"}},
}
VERSIONS_OUT = {"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": shapes.VERSION}}}
CONFLICT = OpenApiResponse(description="`version_immutable`, `dataset_archived`, `duplicate_name`")


def _change_out(result, dataset) -> dict:
    return {"version": result.number, "added": result.added, "removed": result.removed, "changed": result.changed}


class DatasetViewSet(FormatParameterMixin, ProjectScopedViewSet):
    """A project's eval datasets: versions, cases, diffs and exports."""

    model = Dataset
    pagination_class = None
    lookup_url_kwarg = "dataset"
    lookup_value_regex = "[0-9]{1,18}"
    required_role = {
        "list": Role.MEMBER, "retrieve": Role.MEMBER, "versions": Role.MEMBER, "cases": Role.MEMBER,
        "diff": Role.MEMBER, "export": Role.MEMBER,
        "create": Role.REVIEWER, "partial_update": Role.REVIEWER, "cases_add": Role.REVIEWER,
        "case_update": Role.REVIEWER, "cases_remove": Role.REVIEWER, "cases_move": Role.REVIEWER,
        "auto_add": Role.ADMIN,
    }
    token_scope = {
        "create": WRITE, "partial_update": WRITE, "cases_add": WRITE, "case_update": WRITE,
        "cases_remove": WRITE, "cases_move": WRITE, "auto_add": "admin",
    }

    def scope_queryset(self, queryset):
        return queryset.select_related("project__organization").order_by("archived", "name", "id")

    def _author(self) -> Author:
        return Author.of_user(self.request.user)

    @extend_schema(responses={200: shapes.DATASET})  # a list action: the schema is an array of these
    def list(self, request, org=None, project=None):
        return Response([presenters.dataset_out(d) for d in self.get_queryset()[:1000]])

    @extend_schema(request=DatasetIn, responses={201: shapes.DATASET, 409: CONFLICT})
    def create(self, request, org=None, project=None):
        data = DatasetIn(data=request.data)
        data.is_valid(raise_exception=True)
        dataset = dataset_services.dataset_create(project=self.project, actor=Actor.from_request(request), **data.validated_data)
        return Response(presenters.dataset_out(dataset), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: shapes.DATASET_DETAIL})
    def retrieve(self, request, org=None, project=None, dataset=None):
        versions = selectors.version_list(dataset=self.object)[:100]
        return Response({**presenters.dataset_out(self.object), "versions": [presenters.version_out(v) for v in versions]})

    @extend_schema(request=DatasetPatchIn, responses={200: shapes.DATASET, 409: CONFLICT})
    def partial_update(self, request, org=None, project=None, dataset=None):
        data = DatasetPatchIn(data=request.data)
        data.is_valid(raise_exception=True)
        if not data.validated_data:
            raise ValidationFailed("Send a name, a description or archived.", code="required")
        updated = dataset_services.dataset_update(dataset=self.object, actor=Actor.from_request(request), **data.validated_data)
        return Response(presenters.dataset_out(updated))

    @extend_schema(responses={200: VERSIONS_OUT})
    @action(detail=True, methods=["get"])
    def versions(self, request, org=None, project=None, dataset=None):
        """Every version, newest first, with its message, author and counts."""
        return Response({"results": [presenters.version_out(v) for v in selectors.version_list(dataset=self.object)]})

    @extend_schema(
        parameters=shapes.case_page_parameters(default_limit=50),
        responses={200: shapes.CASE_PAGE},
    )
    @action(detail=True, methods=["get"], url_path=CASE_PATH, url_name="version-cases")
    def cases(self, request, org=None, project=None, dataset=None, number=None):
        """A version's cases, keyset-paginated (``cursor``), with filters."""
        version = selectors.version_get(dataset=self.object, number=number).number
        limit = selectors.limit_clean(request.query_params.get("limit"))
        rows, last = selectors.case_page(
            dataset=self.object, number=version, after=presenters.cursor_decode(request.query_params.get("cursor")),
            limit=limit, **presenters.filters_from_query(request.query_params),
        )
        cursor = presenters.cursor_encode(last)
        query = request.query_params.copy()
        if cursor:
            query["cursor"] = cursor
        return Response({
            "version": version, "results": presenters.cases_out(self.project, rows), "cursor": cursor,
            "next": request.build_absolute_uri(f"{request.path}?{query.urlencode()}") if cursor else None,
        })

    @extend_schema(request={"application/json": shapes.CASES_IN}, responses={201: shapes.CASES_ADDED, 200: shapes.CASES_ADDED, 409: CONFLICT})
    @action(detail=True, methods=["post"], url_path="cases", url_name="cases")
    def cases_add(self, request, org=None, project=None, dataset=None):
        """Add cases (hand-written or ``{"turn_id", …}``) as one new version; per-item results."""
        data = CasesIn(data=request.data)
        data.is_valid(raise_exception=True)
        result, results = cases_add_batch(
            dataset=self.object, author=self._author(), items=data.validated_data["cases"],
            message=data.validated_data.get("message", ""),
        )
        self.object.refresh_from_db()
        return Response(
            {"version": result.number or self.object.latest_version or None, "added": result.added,
             "rejected": sum(1 for r in results if r["status"] >= 400), "results": results},
            status=status.HTTP_201_CREATED if result.version else status.HTTP_200_OK,
        )

    @extend_schema(request=CasePatchIn, responses={200: CHANGE_OUT, 409: CONFLICT})
    @action(detail=True, methods=["patch"], url_path=CASE_PATH + r"/(?P<case>[0-9a-f-]{36})", url_name="version-case")
    def case_update(self, request, org=None, project=None, dataset=None, number=None, case=None):
        """Edit a case of the latest version (a new version); naming an older one is ``version_immutable``."""
        selectors.version_get(dataset=self.object, number=number)
        data = CasePatchIn(data=request.data)
        data.is_valid(raise_exception=True)
        changes = edit_changes_clean(data.validated_data["changes"])
        result = case_edit(
            dataset=self.object, case_id=case, changes=changes, author=self._author(),
            message=data.validated_data.get("message", ""), version=int(number),
        )
        return Response(_change_out(result, self.object))

    @extend_schema(request=CaseIdsIn, responses={200: CHANGE_OUT, 409: CONFLICT})
    @action(detail=True, methods=["post"], url_path="cases/remove", url_name="cases-remove")
    def cases_remove(self, request, org=None, project=None, dataset=None):
        """Remove cases from the dataset (a new version; older versions keep them)."""
        data = CaseIdsIn(data=request.data)
        data.is_valid(raise_exception=True)
        result = cases_remove(dataset=self.object, author=self._author(), **data.validated_data)
        return Response(_change_out(result, self.object))

    @extend_schema(request=MoveIn, responses={200: CHANGE_OUT, 409: CONFLICT})
    @action(detail=True, methods=["post"], url_path="cases/move", url_name="cases-move")
    def cases_move(self, request, org=None, project=None, dataset=None):
        """Move cases to another split (a new version)."""
        data = MoveIn(data=request.data)
        data.is_valid(raise_exception=True)
        result = cases_move(dataset=self.object, author=self._author(), **data.validated_data)
        return Response(_change_out(result, self.object))

    @extend_schema(
        parameters=shapes.diff_parameters(),
        responses={200: shapes.DIFF},
    )
    @action(detail=True, methods=["get"])
    def diff(self, request, org=None, project=None, dataset=None):
        """Cases added, removed and changed (field by field) between two versions."""
        return Response(diff_versions(self.object, request.query_params))

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=FORMAT_NAMES)],
        responses=shapes.EXPORT_RESPONSES,
    )
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>[0-9]{1,9})/export", url_name="version-export")
    def export(self, request, org=None, project=None, dataset=None, number=None):
        """Stream a version as JSONL, CSV or OpenAI fine-tuning JSONL."""
        version = selectors.version_get(dataset=self.object, number=number).number
        return export_response(dataset=self.object, version=version, fmt=request.query_params.get("format", "jsonl"))

    @extend_schema(request=AutoAddIn, responses={200: {"type": "object", "properties": {
        "queue": {"type": "integer"}, "dataset": {"type": "integer", "nullable": True}, "split": {"type": "string"}}}})
    @action(detail=True, methods=["put"], url_path="auto-add", url_name="auto-add")
    def auto_add(self, request, org=None, project=None, dataset=None):
        """Every confirmed decision with a correction in ``queue`` goes to this dataset and ``split``
        (``enabled: false`` clears it). A queue has one rule; setting it here moves it."""
        data = AutoAddIn(data=request.data)
        data.is_valid(raise_exception=True)
        queue = review_queue_list(project=self.project).filter(pk=data.validated_data["queue"]).first()
        if queue is None:
            raise ValidationFailed("No such queue in this project.", code="unknown_queue", field="queue")
        rule = integrations.auto_add_set(
            dataset=self.object, queue=queue, split=data.validated_data["split"],
            enabled=data.validated_data["enabled"], actor=Actor.from_request(request),
        )
        return Response({"queue": queue.pk, "dataset": rule.dataset_id if rule else None, "split": rule.split if rule else ""})
