from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.core import views as core_views
from apps.organizations import views as organization_views

urlpatterns = [
    path("", organization_views.home, name="home"),
    path("healthz", core_views.HealthView.as_view(), name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    # The split view serves Swagger UI's initialiser as a script file (?script), so the CSP needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api_schema"), name="api_docs"),
    path("", include("apps.organizations.urls")),
    path("", include("apps.projects.urls")),
    path("", include("apps.traces.urls")),
    path("", include("apps.governance.urls")),
    path("", include("apps.feedback.urls")),
    path("", include("apps.detection.urls")),
    path("", include("apps.review.urls")),
    path("", include("apps.problems.urls")),
    path("", include("apps.datasets.urls")),
    path("", include("apps.experiments.urls")),
]

handler400 = "apps.core.views.error_400"
handler403 = "apps.core.views.error_403"
handler404 = "apps.core.views.error_404"
handler500 = "apps.core.views.error_500"
