"""Changes and validations over the session API (the UI's and organization tokens' doors):
``/api/v1/orgs/<org>/projects/<project>/changes[/<id>[/promote|/rollback]]`` and
``…/validations[/<id>]``.

The roles are the change pages' (apps.experiments.views_changes): members read; reviewers make
changes and validations, promote (the gate: the latest validation says ``ship``, else 409
``not_validated``) and roll back; only admins override the gate, with a written reason
(``{"override_reason": "…"}``; audited with the report attached). Token scopes: reads ``read``;
making changes and validations ``datasets`` (as experiments and prompt versions); promote and
rollback are label moves, ``review`` as on the label routes; an override ``admin``.

Bodies are the key routes' (apps.experiments.api_validations) and the services are shared; the
change or validation in the URL is resolved in the URL's project first (a foreign one is 404).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.audit import Actor
from apps.core.errors import ValidationFailed
from apps.core.pagination import LimitOffsetPagination
from apps.core.roles import Role
from apps.experiments import presenters, shapes
from apps.experiments.api_validations import ACCEPTED, CHANGE_IN, REPORT, VALIDATION_IN, change_create_from_body
from apps.experiments.models import Change, ChangeStatus, Validation, ValidationKind, ValidationStatus
from apps.experiments.selectors import changes as selectors
from apps.experiments.services import changes as change_services
from apps.experiments.services.prompts import Author
from apps.experiments.services.validations import validation_body, validation_request
from apps.organizations.models import TokenScope
from apps.projects.tenancy import ProjectScopedViewSet

ERROR = OpenApiResponse(description="Error: {code, message, field}")
WRITE = TokenScope.DATASETS
ID_LIMIT = 2**63 - 1
PROMOTE_IN = {"type": "object", "properties": {"override_reason": {
    "type": "string", "minLength": 1, "maxLength": change_services.MAX_REASON,
    "description": "Admins only: promote without a ship verdict, for this reason (audited with the report)"}},
    "additionalProperties": False}


def _author(request) -> Author:
    return Author(actor=Actor.from_request(request))


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationFailed("Send a JSON object.")
    return request.data


class ChangeListQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=ChangeStatus.values, required=False)
    problem = serializers.IntegerField(min_value=1, max_value=ID_LIMIT, required=False, help_text="Changes addressing this problem")


class ValidationListQuery(serializers.Serializer):
    change = serializers.IntegerField(min_value=1, max_value=ID_LIMIT, required=False)
    kind = serializers.ChoiceField(choices=ValidationKind.values, required=False)
    status = serializers.ChoiceField(choices=ValidationStatus.values, required=False)


def _query(serializer_class, request) -> dict:
    query = serializer_class(data=request.query_params.dict())
    query.is_valid(raise_exception=True)
    return query.validated_data


class ChangeViewSet(ProjectScopedViewSet):
    """A project's changes: list (paginated, by status or problem), read (problems, diff summary,
    validations, verdict history), make, promote through the gate, roll back."""

    model = Change
    pagination_class = LimitOffsetPagination
    lookup_url_kwarg = "change"
    lookup_value_regex = "[0-9]{1,18}"
    required_role = {"list": Role.MEMBER, "retrieve": Role.MEMBER, "create": Role.REVIEWER,
                     "promote": Role.REVIEWER, "rollback": Role.REVIEWER}
    token_scope = {"create": WRITE}

    def get_object(self):
        return selectors.change_get(project=self.project, change_id=self.kwargs["change"])

    def token_scope_required(self) -> str | None:
        """An override is an admin's act: with a token it needs the ``admin`` scope."""
        if self.action == "promote" and isinstance(self.request.data, dict) and self.request.data.get("override_reason") is not None:
            return TokenScope.ADMIN
        return super().token_scope_required()

    @extend_schema(parameters=[ChangeListQuery], responses={200: shapes.CHANGE_OUT, 400: ERROR})  # a list: pages of these
    def list(self, request, org=None, project=None):
        page = self.paginate_queryset(selectors.change_list(project=self.project, **_query(ChangeListQuery, request)))
        latest = selectors.change_latest_validations(page)
        return self.get_paginated_response([presenters.change_body(c, latest=latest.get(c.pk)) for c in page])

    @extend_schema(request={"application/json": CHANGE_IN}, responses={201: shapes.CHANGE_DETAIL_OUT, 400: ERROR, 404: ERROR},
                   description="Make a change (the body of POST /api/v1/changes; baseline: the version holding the label, "
                               "`production` by default). Candidate = baseline: 400 `same_arms`; an unknown prompt, version "
                               "or problem of this project: 404 `not_found` with the field.")
    def create(self, request, org=None, project=None):
        change = change_create_from_body(project=self.project, body=request.data, author=_author(request))
        return Response(presenters.change_detail_body(change), status=201)

    @extend_schema(responses={200: shapes.CHANGE_DETAIL_OUT})
    def retrieve(self, request, org=None, project=None, change=None):
        return Response(presenters.change_detail_body(self.object))

    @extend_schema(request={"application/json": PROMOTE_IN}, responses={200: shapes.CHANGE_DETAIL_OUT, 403: ERROR, 409: ERROR},
                   description="Move the label to the candidate. Without a ship verdict: 409 `not_validated`, unless an "
                               "admin sends `override_reason` (a reviewer's override is 403 `permission_denied`).")
    @action(detail=True, methods=["post"])
    def promote(self, request, org=None, project=None, change=None):
        body = _body(request)
        extra = sorted(set(body) - {"override_reason"})
        if extra:
            raise ValidationFailed(f"Unknown field {extra[0]!r}.", field=extra[0])
        promoted = change_services.change_promote(change=self.object, author=_author(request), role=self.membership.role,
                                                  override_reason=body.get("override_reason"))
        return Response(presenters.change_detail_body(promoted))

    @extend_schema(request=None, responses={200: shapes.CHANGE_DETAIL_OUT, 409: ERROR},
                   description="Move the label back to the baseline (409 `not_promoted` unless promoted); resolves regressions.")
    @action(detail=True, methods=["post"])
    def rollback(self, request, org=None, project=None, change=None):
        rolled = change_services.change_rollback(change=self.object, author=_author(request), role=self.membership.role)
        return Response(presenters.change_detail_body(rolled))


class ValidationViewSet(ProjectScopedViewSet):
    """A project's validations: list (paginated, by change, kind or status), the report, start one."""

    model = Validation
    pagination_class = LimitOffsetPagination
    lookup_url_kwarg = "validation"
    lookup_value_regex = "[0-9]{1,18}"
    required_role = {"list": Role.MEMBER, "retrieve": Role.MEMBER, "create": Role.REVIEWER}
    token_scope = {"create": WRITE}

    def get_object(self):
        return selectors.validation_get(project=self.project, validation_id=self.kwargs["validation"])

    @extend_schema(parameters=[ValidationListQuery], responses={200: shapes.VALIDATION_SUMMARY, 400: ERROR})
    def list(self, request, org=None, project=None):
        page = self.paginate_queryset(selectors.validation_list(project=self.project, **_query(ValidationListQuery, request)))
        return self.get_paginated_response([presenters.validation_summary(v) for v in page])

    @extend_schema(request={"application/json": VALIDATION_IN}, responses={202: ACCEPTED, 400: ERROR, 404: ERROR},
                   description="Start an offline or online validation: the body and answers of POST /api/v1/validations "
                               "(the same inputs again: the same id).")
    def create(self, request, org=None, project=None):
        validation, _ = validation_request(project=self.project, body=request.data,
                                           author_label=getattr(request.user, "email", ""))
        return Response({"id": validation.pk, "status": validation.status}, status=202)

    @extend_schema(responses={200: REPORT}, description="The report: the shape of GET /api/v1/validations/{id}.")
    def retrieve(self, request, org=None, project=None, validation=None):
        return Response(validation_body(self.object))

