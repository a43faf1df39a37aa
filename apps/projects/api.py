from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.parsers import StrictJSONParser
from apps.organizations.tenancy import OrganizationScopedViewSet
from apps.projects.tenancy import ProjectScopedViewSet
from apps.core.roles import Role
from apps.core.audit import Actor
from apps.projects import selectors, services
from apps.projects.authentication import ApiKeyAuthentication, IsProjectKey
from apps.projects.models import ApiKey
from apps.projects.serializers import (
    ApiKeyCreatedOut,
    ApiKeyIn,
    ApiKeyOut,
    AuthCheckOut,
    ProjectAccessIn,
    ProjectIn,
    ProjectOut,
    RedactionSettingsIn,
    RedactionSettingsOut,
    RedactionTestIn,
    RedactionTestOut,
)
from apps.projects.redaction import redaction_settings_as_dict, redaction_settings_get, redaction_settings_save, redaction_test


class ProjectViewSet(OrganizationScopedViewSet):
    serializer_class = ProjectOut
    pagination_class = None
    lookup_url_kwarg = "project"
    lookup_value_regex = "[0-9a-f-]{36}"
    required_role = {
        "list": Role.MEMBER,
        "retrieve": Role.MEMBER,
        "create": Role.ADMIN,
        "partial_update": Role.ADMIN,
        "destroy": Role.ADMIN,
        "access": Role.ADMIN,
    }

    def base_queryset(self):
        return selectors.project_list_visible(organization=self.organization, membership=self.membership)

    def list(self, request, org=None):
        return Response(ProjectOut(self.get_queryset(), many=True).data)

    def retrieve(self, request, org=None, project=None):
        return Response(ProjectOut(self.object).data)

    @extend_schema(request=ProjectIn, responses={201: ProjectOut})
    def create(self, request, org=None):
        data = ProjectIn(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_create(
            organization=self.organization, name=data.validated_data["name"], actor=Actor.from_request(request)
        )
        return Response(ProjectOut(project).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ProjectIn, responses=ProjectOut)
    def partial_update(self, request, org=None, project=None):
        data = ProjectIn(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_rename(
            project=self.object, name=data.validated_data["name"], actor=Actor.from_request(request)
        )
        return Response(ProjectOut(project).data)

    def destroy(self, request, org=None, project=None):
        services.project_delete(project=self.object, actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectAccessViewSet(ProjectScopedViewSet):
    """Restrict a project to named members (Membership ids), or open it to the organization."""

    required_role = {"update": Role.ADMIN}

    @extend_schema(request=ProjectAccessIn, responses=ProjectOut)
    def update(self, request, org=None, project=None):
        data = ProjectAccessIn(data=request.data)
        data.is_valid(raise_exception=True)
        updated = services.project_set_access(
            project=self.project, actor=Actor.from_request(request), **data.validated_data
        )
        return Response(ProjectOut(updated).data)


class RedactionSettingsViewSet(ProjectScopedViewSet):
    """The project's PII redaction settings (admins); ``test`` shows what a text would become."""

    required_role = {"retrieve": Role.ADMIN, "update": Role.ADMIN, "test": Role.ADMIN}

    @extend_schema(responses=RedactionSettingsOut)
    def retrieve(self, request, org=None, project=None):
        return Response(redaction_settings_as_dict(redaction_settings_get(project=self.project)))

    @extend_schema(request=RedactionSettingsIn, responses=RedactionSettingsOut)
    def update(self, request, org=None, project=None):
        data = RedactionSettingsIn(data=request.data)
        data.is_valid(raise_exception=True)
        saved = redaction_settings_save(project=self.project, actor=Actor.from_request(request), **data.validated_data)
        return Response(redaction_settings_as_dict(saved))

    @extend_schema(request=RedactionTestIn, responses=RedactionTestOut)
    def test(self, request, org=None, project=None):
        data = RedactionTestIn(data=request.data)
        data.is_valid(raise_exception=True)
        text, counts = redaction_test(project=self.project, **data.validated_data)
        return Response({"text": text, "redactions": counts})


class ApiKeyViewSet(mixins.ListModelMixin, ProjectScopedViewSet):
    model = ApiKey
    serializer_class = ApiKeyOut
    lookup_field = "key_id"
    lookup_value_regex = "[0-9a-f]{12}"
    required_role = {"list": Role.ADMIN, "create": Role.ADMIN, "destroy": Role.ADMIN}

    def scope_queryset(self, queryset):
        return queryset.select_related("created_by")

    @extend_schema(request=ApiKeyIn, responses={201: ApiKeyCreatedOut})
    def create(self, request, org=None, project=None):
        data = ApiKeyIn(data=request.data)
        data.is_valid(raise_exception=True)
        api_key, secret = services.api_key_create(
            project=self.project, name=data.validated_data["name"], actor=Actor.from_request(request)
        )
        api_key.secret = secret
        return Response(ApiKeyCreatedOut(api_key).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, org=None, project=None, key_id=None):
        """Revoke a key: it stops authenticating immediately. The row is kept for the audit trail."""
        services.api_key_revoke(api_key=self.object, actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuthCheckView(APIView):
    """Checks an ingestion key: which organization and project it writes to."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsProjectKey]
    parser_classes = [StrictJSONParser]

    @extend_schema(responses=AuthCheckOut)
    def get(self, request):
        project = request.user.project
        return Response(
            {
                "organization": project.organization.slug,
                "project": project.pk,
                "project_name": project.name,
                "key_id": request.auth.key_id,
            }
        )
