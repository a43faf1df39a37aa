"""The REST API under /api/v1/: one router, tenant in the URL for management, key for ingestion."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from apps.experiments.api import PromptLabelViewSet, PromptVersionViewSet, PromptViewSet
from apps.experiments.models import NAME_PATTERN as PROMPT_NAME
from apps.datasets.api import DatasetViewSet
from apps.experiments.api_session import ExperimentViewSet
from apps.governance.api import AuditEventViewSet
from apps.governance.retention_api import OrganizationRetentionViewSet, ProjectRetentionViewSet
from apps.problems.api import ProblemViewSet
from apps.organizations.api import (
    InvitationViewSet, MembershipViewSet, OrganizationListViewSet, OrganizationViewSet, OrgTokenViewSet,
)
from apps.projects.api import ApiKeyViewSet, AuthCheckView, ProjectAccessViewSet, ProjectViewSet, RedactionSettingsViewSet
from apps.review.api import ReviewQueueViewSet, TaxonomyViewSet

router = SimpleRouter()
router.trailing_slash = "/?"  # DRF turns a truthy constructor argument into "/"
router.register(r"orgs/(?P<org>[-a-zA-Z0-9_]+)/projects", ProjectViewSet, basename="api-project")
router.register(r"orgs/(?P<org>[-a-zA-Z0-9_]+)/members", MembershipViewSet, basename="api-member")
router.register(r"orgs/(?P<org>[-a-zA-Z0-9_]+)/invitations", InvitationViewSet, basename="api-invitation")
router.register(r"orgs/(?P<org>[-a-zA-Z0-9_]+)/audit-events", AuditEventViewSet, basename="api-audit-event")
router.register(r"orgs/(?P<org>[-a-zA-Z0-9_]+)/tokens", OrgTokenViewSet, basename="api-org-token")
router.register(
    r"orgs/(?P<org>[-a-zA-Z0-9_]+)/projects/(?P<project>[0-9a-f-]{36})/keys", ApiKeyViewSet, basename="api-key"
)
router.register(
    r"orgs/(?P<org>[-a-zA-Z0-9_]+)/projects/(?P<project>[0-9a-f-]{36})/problems", ProblemViewSet, basename="api-problem"
)
router.register(
    r"orgs/(?P<org>[-a-zA-Z0-9_]+)/projects/(?P<project>[0-9a-f-]{36})/queues", ReviewQueueViewSet, basename="api-queue"
)
router.register(
    r"orgs/(?P<org>[-a-zA-Z0-9_]+)/projects/(?P<project>[0-9a-f-]{36})/prompts", PromptViewSet, basename="api-prompt"
)
router.register(
    rf"orgs/(?P<org>[-a-zA-Z0-9_]+)/projects/(?P<project>[0-9a-f-]{{36}})/prompts/(?P<prompt>{PROMPT_NAME})/versions",
    PromptVersionViewSet, basename="api-prompt-version",
)
router.register(
    rf"orgs/(?P<org>[-a-zA-Z0-9_]+)/projects/(?P<project>[0-9a-f-]{{36}})/prompts/(?P<prompt>{PROMPT_NAME})/labels",
    PromptLabelViewSet, basename="api-prompt-label",
)
router.register(
    r"orgs/(?P<org>[-a-zA-Z0-9_]+)/projects/(?P<project>[0-9a-f-]{36})/datasets", DatasetViewSet, basename="api-dataset"
)
router.register(
    r"orgs/(?P<org>[-a-zA-Z0-9_]+)/projects/(?P<project>[0-9a-f-]{36})/experiments", ExperimentViewSet,
    basename="api-experiment",
)

from apps.experiments.api_session_changes import ChangeViewSet, ValidationViewSet  # noqa: E402

router.register(
    r"orgs/(?P<org>[-a-zA-Z0-9_]+)/projects/(?P<project>[0-9a-f-]{36})/changes", ChangeViewSet, basename="api-change"
)
router.register(
    r"orgs/(?P<org>[-a-zA-Z0-9_]+)/projects/(?P<project>[0-9a-f-]{36})/validations", ValidationViewSet,
    basename="api-validation",
)

urlpatterns = [
    path("orgs", OrganizationListViewSet.as_view({"get": "list"}), name="api-organization-list"),
    path(
        "orgs/<slug:org>",
        OrganizationViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="api-organization-detail",
    ),
    path(
        "orgs/<slug:org>/projects/<uuid:project>/access",
        ProjectAccessViewSet.as_view({"put": "update"}),
        name="api-project-access",
    ),
    path(
        "orgs/<slug:org>/projects/<uuid:project>/taxonomy",
        TaxonomyViewSet.as_view({"get": "retrieve", "put": "update"}),
        name="api-taxonomy",
    ),
    path(
        "orgs/<slug:org>/projects/<uuid:project>/redaction",
        RedactionSettingsViewSet.as_view({"get": "retrieve", "put": "update"}),
        name="api-project-redaction",
    ),
    path(
        "orgs/<slug:org>/projects/<uuid:project>/redaction/test",
        RedactionSettingsViewSet.as_view({"post": "test"}),
        name="api-project-redaction-test",
    ),
    path(
        "orgs/<slug:org>/retention",
        OrganizationRetentionViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="api-organization-retention",
    ),
    path(
        "orgs/<slug:org>/projects/<uuid:project>/retention",
        ProjectRetentionViewSet.as_view({"get": "retrieve", "put": "update"}),
        name="api-project-retention",
    ),
    path("auth/check", AuthCheckView.as_view(), name="api-auth-check"),
    path("", include("apps.traces.urls_api")),
    path("", include("apps.experiments.urls_api")),
    path("", include("apps.datasets.urls_api")),
    path("", include("apps.governance.urls_api")),
    *router.urls,
]
