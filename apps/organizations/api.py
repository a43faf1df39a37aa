from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from apps.organizations.authentication import request_token
from apps.organizations.tenancy import AUTHENTICATION_CLASSES, OrganizationScopedViewSet, org_token_rate_limit
from apps.core.roles import Role
from apps.core.audit import Actor
from apps.organizations import selectors, services, tokens
from apps.organizations.models import Invitation, Membership, OrganizationToken
from apps.organizations.serializers import (
    InvitationCreatedOut,
    InvitationCreateIn,
    InvitationOut,
    MembershipOut,
    MembershipUpdateIn,
    OrganizationOut,
    OrganizationUpdateIn,
    OrgTokenCreatedOut,
    OrgTokenIn,
    OrgTokenOut,
)


class OrganizationListViewSet(viewsets.ViewSet):
    """The organizations the signed-in user belongs to (with a token: only the token's own)."""

    authentication_classes = AUTHENTICATION_CLASSES

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        org_token_rate_limit(request)

    @extend_schema(responses=OrganizationOut(many=True))
    def list(self, request):
        token = request_token(request)
        if token is not None:
            memberships = [token.membership]  # every scope includes read
        else:
            memberships = selectors.organization_list_for_user(user=request.user)
        return Response([{**OrganizationOut(m.organization).data, "role": m.role} for m in memberships])


class OrganizationViewSet(OrganizationScopedViewSet):
    required_role = {"retrieve": Role.MEMBER, "partial_update": Role.ADMIN}

    @extend_schema(responses=OrganizationOut)
    def retrieve(self, request, org=None):
        return Response(OrganizationOut(self.organization).data)

    @extend_schema(request=OrganizationUpdateIn, responses=OrganizationOut)
    def partial_update(self, request, org=None):
        data = OrganizationUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        organization = services.organization_update(
            organization=self.organization, actor=Actor.from_request(request), **data.validated_data
        )
        return Response(OrganizationOut(organization).data)


class MembershipViewSet(mixins.ListModelMixin, OrganizationScopedViewSet):
    model = Membership
    lookup_url_kwarg = "member"
    lookup_value_regex = "[0-9]+"
    serializer_class = MembershipOut
    pagination_class = None
    required_role = {"list": Role.MEMBER, "partial_update": Role.ADMIN, "destroy": Role.MEMBER}

    def scope_queryset(self, queryset):
        return queryset.select_related("user").order_by("user__email")

    @extend_schema(request=MembershipUpdateIn, responses=MembershipOut)
    def partial_update(self, request, org=None, member=None):
        data = MembershipUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_change_role(
            membership=self.object, acting=self.membership, role=data.validated_data["role"],
            actor=Actor.from_request(request),
        )
        return Response(MembershipOut(membership).data)

    def destroy(self, request, org=None, member=None):
        """Remove a member (admins), or leave the organization (anyone, for their own membership)."""
        services.membership_remove(membership=self.object, acting=self.membership, actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationViewSet(mixins.ListModelMixin, OrganizationScopedViewSet):
    model = Invitation
    lookup_url_kwarg = "invitation"
    lookup_value_regex = "[0-9]+"
    serializer_class = InvitationOut
    required_role = {"list": Role.ADMIN, "create": Role.ADMIN, "destroy": Role.ADMIN}

    def scope_queryset(self, queryset):
        return queryset.select_related("invited_by")

    @extend_schema(request=InvitationCreateIn, responses={201: InvitationCreatedOut})
    def create(self, request, org=None):
        data = InvitationCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, token = services.invitation_create(
            organization=self.organization, acting=self.membership, actor=Actor.from_request(request),
            **data.validated_data,
        )
        invitation.accept_url = services.invitation_url(token)
        return Response(InvitationCreatedOut(invitation).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, org=None, invitation=None):
        """Revoke an open invitation; its link stops working at once."""
        services.invitation_revoke(invitation=self.object, actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrgTokenViewSet(mixins.ListModelMixin, OrganizationScopedViewSet):
    """Organization API tokens: admins list, create (the secret is in the 201 only) and revoke."""

    model = OrganizationToken
    serializer_class = OrgTokenOut
    pagination_class = None
    lookup_field = "token_id"
    lookup_value_regex = "[0-9a-f]{12}"
    required_role = {"list": Role.ADMIN, "create": Role.ADMIN, "destroy": Role.ADMIN}
    token_scope = {"list": "admin", "create": "admin", "destroy": "admin"}

    def base_queryset(self):
        return selectors.org_token_list(organization=self.organization)

    @extend_schema(request=OrgTokenIn, responses={201: OrgTokenCreatedOut})
    def create(self, request, org=None):
        data = OrgTokenIn(data=request.data)
        data.is_valid(raise_exception=True)
        token, secret = tokens.org_token_create(
            organization=self.organization, acting=self.membership, actor=Actor.from_request(request),
            **data.validated_data,
        )
        token.token = secret
        response = Response(OrgTokenCreatedOut(token).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="Already revoked (`already_revoked`)")})
    def destroy(self, request, org=None, token_id=None):
        """Revoke a token: the next request with it is 401 `invalid_token`. The row stays listed."""
        tokens.org_token_revoke(token=self.object, actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
