"""Review queues over REST: ``/api/v1/orgs/<org>/projects/<project>/queues`` and ``…/taxonomy``.

The queue in the URL is resolved through the visibility selector before roles are checked: a
queue of another project, a missing one and (below admin) one the caller is not assigned to are
the same 404. An item in the URL is resolved inside that queue the same way.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.projects.tenancy import ProjectScopedViewSet
from apps.core.errors import ValidationFailed
from apps.core.pagination import CursorPagination
from apps.core.roles import Role
from apps.core.audit import Actor
from apps.organizations.selectors import membership_get, membership_list
from apps.review import selectors
from apps.review.models import ItemState, ReviewQueue
from apps.review.serializers import (
    AssignIn, ClaimOut, DecisionIn, DecisionResultOut, ItemFilter, ItemOut, MemberIn, QueueIn, QueueOut, ReviewerOut,
    TaxonomySerializer,
)
from apps.review.services import items as item_services
from apps.review.services import queues as queue_services
from apps.traces import selectors as trace_selectors

ERROR = OpenApiResponse(description="Error: {code, message, field}")


class ItemPageOut(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ItemOut(many=True)


class ReviewQueueViewSet(ProjectScopedViewSet):
    """Queues with progress and agreement; reviewers; items; claim the next item; decide; assign."""

    model = ReviewQueue
    serializer_class = QueueOut
    pagination_class = None
    lookup_url_kwarg = "queue"
    lookup_value_regex = "[0-9]+"
    required_role = {
        "list": Role.MEMBER,
        "retrieve": Role.REVIEWER,
        "create": Role.ADMIN,
        "partial_update": Role.ADMIN,
        "destroy": Role.ADMIN,
        "reviewers": Role.ADMIN,
        "reviewer_remove": Role.ADMIN,
        "items": Role.REVIEWER,
        "claim_next": Role.REVIEWER,
        "decide": Role.REVIEWER,
        "assign": Role.ADMIN,
    }

    def scope_queryset(self, queryset):
        return selectors.review_queue_filter_visible(
            queryset=queryset.order_by("name", "id"), project=self.project, membership=self.membership
        )

    def get_object(self):
        queue = super().get_object()
        if "item" in self.kwargs:
            self.item = selectors.review_item_get(queue=queue, item_id=self.kwargs["item"])
        return queue

    def _out(self, queues) -> list[dict]:
        progress = selectors.review_queue_progress(project=self.project, queues=queues)
        agreement = selectors.review_queue_agreement(project=self.project, queues=queues)
        for queue in queues:
            queue.progress, queue.agreement = progress[queue.pk], agreement[queue.pk]
        return QueueOut(queues, many=True).data

    def _fields(self, data: dict) -> dict:
        fields = dict(data)
        if "escalate_to" in fields and fields["escalate_to"] is not None:
            target = selectors.review_queue_list(project=self.project).filter(pk=fields["escalate_to"]).first()
            if target is None:
                raise ValidationFailed("No such queue.", code="unknown_queue", field="escalate_to")
            fields["escalate_to"] = target
        return fields

    @extend_schema(responses=QueueOut(many=True))
    def list(self, request, org=None, project=None):
        return Response(self._out(list(self.get_queryset())))

    @extend_schema(responses={200: QueueOut, 404: ERROR})
    def retrieve(self, request, org=None, project=None, queue=None):
        return Response(self._out([self.object])[0])

    @extend_schema(request=QueueIn, responses={201: QueueOut, 400: ERROR})
    def create(self, request, org=None, project=None):
        data = QueueIn(data=request.data)
        data.is_valid(raise_exception=True)
        queue = queue_services.review_queue_create(project=self.project, actor=Actor.from_request(request), **self._fields(data.validated_data))
        return Response(self._out([queue])[0], status=status.HTTP_201_CREATED)

    @extend_schema(request=QueueIn(partial=True), responses={200: QueueOut, 400: ERROR})
    def partial_update(self, request, org=None, project=None, queue=None):
        data = QueueIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        updated = queue_services.review_queue_update(queue=self.object, actor=Actor.from_request(request), **self._fields(data.validated_data))
        return Response(self._out([updated])[0])

    def destroy(self, request, org=None, project=None, queue=None):
        queue_services.review_queue_delete(queue=self.object, actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["GET"], responses=ReviewerOut(many=True))
    @extend_schema(methods=["POST"], request=MemberIn, responses={200: ReviewerOut(many=True), 400: ERROR})
    @action(detail=True, methods=["get", "post"])
    def reviewers(self, request, org=None, project=None, queue=None):
        """The members assigned to work this queue; POST assigns one more (by membership id)."""
        if request.method == "POST":
            data = MemberIn(data=request.data)
            data.is_valid(raise_exception=True)
            membership = membership_list(organization=self.organization).filter(pk=data.validated_data["member"]).first()
            if membership is None:
                raise ValidationFailed("No such member.", code="unknown_member", field="member")
            queue_services.review_queue_assign(queue=self.object, membership=membership, actor=Actor.from_request(request))
        return Response(ReviewerOut(selectors.review_queue_assignees(queue=self.object), many=True).data)

    @extend_schema(responses={204: None, 404: ERROR})
    @action(detail=True, methods=["delete"], url_path=r"reviewers/(?P<member>[0-9]+)", url_name="reviewer")
    def reviewer_remove(self, request, org=None, project=None, queue=None, member=None):
        """Remove a member from the queue: they stop seeing it (404) at once."""
        membership = membership_get(organization=self.organization, membership_id=member)
        queue_services.review_queue_unassign(queue=self.object, membership=membership, actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "state", str, many=True, enum=ItemState.values, description="Item states to list (repeatable); all when absent."
            )
        ],
        responses={200: ItemPageOut, 400: ERROR},
    )
    @action(detail=True, methods=["get"])
    def items(self, request, org=None, project=None, queue=None):
        """The queue's items, newest first, cursor-paginated (``limit``, ``cursor``)."""
        filters = ItemFilter(data={"state": request.query_params.getlist("state")} if "state" in request.query_params else {})
        filters.is_valid(raise_exception=True)
        items = selectors.review_item_list(queue=self.object, states=filters.validated_data.get("state"))
        paginator = CursorPagination()
        page = paginator.paginate_queryset(items, request, view=self)
        return paginator.get_paginated_response(ItemOut(page, many=True).data)

    @extend_schema(request=None, responses={200: ClaimOut, 204: OpenApiResponse(description="Nothing to review")})
    @action(detail=True, methods=["post"], url_path="claim-next", url_name="claim-next")
    def claim_next(self, request, org=None, project=None, queue=None):
        """Lease the next item to the caller (or return the one they hold), with its turn."""
        item = item_services.review_item_claim_next(queue=self.object, reviewer=request.user)
        if item is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        turn = trace_selectors.turn_get(project=self.project, turn_id=item.turn_id)
        visible = selectors.review_decisions_visible(queue=self.object, item=item)
        return Response(ClaimOut({
            "item": selectors.review_item_get(queue=self.object, item_id=item.pk),
            "turn": trace_selectors.turn_as_dict(turn) if turn is not None else None,
            "decisions": selectors.review_decision_list(item=item) if visible else None,
        }).data)

    @extend_schema(request=DecisionIn, responses={201: DecisionResultOut, 400: ERROR, 404: ERROR, 409: ERROR})
    @action(detail=True, methods=["post"], url_path=r"items/(?P<item>[0-9]+)/decision", url_name="item-decision")
    def decide(self, request, org=None, project=None, queue=None, item=None):
        """Decide an item the caller holds (409 ``not_claimed`` otherwise)."""
        data = DecisionIn(data=request.data)
        data.is_valid(raise_exception=True)
        actor = Actor.from_request(request)
        decision = item_services.review_item_decide(
            item=self.item, reviewer=request.user, ip_address=actor.ip_address, via=actor.via, **data.validated_data
        )
        item = selectors.review_item_get(queue=self.object, item_id=self.item.pk)
        return Response(DecisionResultOut({"decision": decision, "item": item}).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AssignIn, responses={200: ItemOut, 400: ERROR, 404: ERROR, 409: ERROR})
    @action(detail=True, methods=["post"], url_path=r"items/(?P<item>[0-9]+)/assign", url_name="item-assign")
    def assign(self, request, org=None, project=None, queue=None, item=None):
        """Reserve an open item for one of the queue's reviewers (``member: null`` releases it)."""
        data = AssignIn(data=request.data)
        data.is_valid(raise_exception=True)
        membership = None
        if data.validated_data["member"] is not None:
            membership = membership_list(organization=self.organization).filter(pk=data.validated_data["member"]).first()
            if membership is None:
                raise ValidationFailed("No such member.", code="unknown_member", field="member")
        assigned = item_services.review_item_assign(item=self.item, membership=membership, actor=Actor.from_request(request))
        return Response(ItemOut(selectors.review_item_get(queue=self.object, item_id=assigned.pk)).data)


class TaxonomyViewSet(ProjectScopedViewSet):
    """The project's failure categories (members read; admins replace the whole list)."""

    required_role = {"retrieve": Role.MEMBER, "update": Role.ADMIN}

    @extend_schema(responses=TaxonomySerializer)
    def retrieve(self, request, org=None, project=None):
        return Response({"categories": selectors.taxonomy_get(project=self.project)})

    @extend_schema(request=TaxonomySerializer, responses={200: TaxonomySerializer, 400: ERROR})
    def update(self, request, org=None, project=None):
        data = TaxonomySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        categories = queue_services.taxonomy_update(
            project=self.project, actor=Actor.from_request(request), categories=data.validated_data["categories"]
        )
        return Response({"categories": categories})
