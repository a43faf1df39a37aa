"""The backlog's REST API: ranked problems with their pain factors, and a reviewer's changes."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.projects.tenancy import ProjectScopedViewSet
from apps.core.errors import ValidationFailed
from apps.core.pagination import LimitOffsetPagination
from apps.core.roles import Role
from apps.core.audit import Actor
from apps.problems import selectors
from apps.problems.models import Problem
from apps.problems.selectors import STATUS_FILTERS
from apps.problems.serializers import (
    ProblemCauseIn, ProblemDetailOut, ProblemListFilter, ProblemMergeIn, ProblemOut, ProblemPatchIn, ProblemSplitIn,
)
from apps.problems.services import backlog

ERROR = OpenApiResponse(description="Error: {code, message, field}")
ERRORS = {400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR}


def _detail(problem: Problem) -> dict:
    turn_ids = selectors.problem_turn_ids(problem=problem, limit=1001)
    problem.turn_ids, problem.turn_ids_truncated = turn_ids[:1000], len(turn_ids) > 1000
    return ProblemDetailOut(problem).data


class ProblemViewSet(ProjectScopedViewSet):
    """Problems of a project, ranked by user pain: ``pain = (U + ¼·T) × S × R × G``."""

    model = Problem
    serializer_class = ProblemOut
    pagination_class = LimitOffsetPagination
    lookup_url_kwarg = "problem"
    lookup_value_regex = "[0-9]{1,18}"
    required_role = {
        "list": Role.MEMBER,
        "retrieve": Role.MEMBER,
        "partial_update": Role.REVIEWER,
        "merge": Role.REVIEWER,
        "split": Role.REVIEWER,
        "cause": Role.REVIEWER,
    }

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=list(STATUS_FILTERS), description="Default: unresolved (open, confirmed, fixing)"),
            OpenApiParameter("include_empty", bool, description="Include problems whose turns all left"),
        ],
        responses={200: ProblemOut(many=True), 400: ERROR},
    )
    def list(self, request, org=None, project=None):
        filters = ProblemListFilter(data=request.query_params.dict())  # a blank value is a value (400), not "absent"
        filters.is_valid(raise_exception=True)
        problems = selectors.problem_list(project=self.project, **filters.validated_data)
        page = self.paginate_queryset(problems)
        return self.get_paginated_response(ProblemOut(page, many=True).data)

    @extend_schema(responses={200: ProblemDetailOut, 404: ERROR})
    def retrieve(self, request, org=None, project=None, problem=None):
        return Response(_detail(self.object))

    @extend_schema(request=ProblemPatchIn, responses={200: ProblemDetailOut, **ERRORS})
    def partial_update(self, request, org=None, project=None, problem=None):
        data = ProblemPatchIn(data=request.data)
        data.is_valid(raise_exception=True)
        if not data.validated_data:
            raise ValidationFailed("Send a title or a status.", code="required")
        updated = backlog.problem_update(problem=self.object, actor=Actor.from_request(request), **data.validated_data)
        return Response(_detail(updated))

    @extend_schema(request=ProblemMergeIn, responses={200: ProblemDetailOut, **ERRORS},
                   description="Merge this problem into `into`: its turns move there, it becomes merged and redirects.")
    @action(detail=True, methods=["post"])
    def merge(self, request, org=None, project=None, problem=None):
        data = ProblemMergeIn(data=request.data)
        data.is_valid(raise_exception=True)
        into = selectors.problem_get_by_id(project=self.project, problem_id=data.validated_data["into"])
        survivor = backlog.problem_merge(problem=self.object, into=into, actor=Actor.from_request(request))
        return Response(_detail(survivor))

    @extend_schema(request=ProblemSplitIn, responses={201: ProblemDetailOut, **ERRORS},
                   description="Move the selected member turns to a new problem (pinned: clustering leaves them there).")
    @action(detail=True, methods=["post"])
    def split(self, request, org=None, project=None, problem=None):
        data = ProblemSplitIn(data=request.data)
        data.is_valid(raise_exception=True)
        new = backlog.problem_split(problem=self.object, actor=Actor.from_request(request), **data.validated_data)
        return Response(_detail(new), status=status.HTTP_201_CREATED)

    @extend_schema(request=ProblemCauseIn, responses={200: ProblemDetailOut, **ERRORS},
                   description="Confirm or reject the proposed cause; a rejected cause is not proposed again.")
    @action(detail=True, methods=["post"])
    def cause(self, request, org=None, project=None, problem=None):
        data = ProblemCauseIn(data=request.data)
        data.is_valid(raise_exception=True)
        reviewed = backlog.problem_cause_review(
            problem=self.object, actor=Actor.from_request(request), verdict=data.validated_data["verdict"]
        )
        return Response(_detail(reviewed))
