from django.urls import path

from apps.traces import views

prefix = "orgs/<slug:org>/projects/<uuid:project>"
urlpatterns = [
    path(f"{prefix}/turns/", views.TurnListView.as_view(), name="turn_list"),
    path(f"{prefix}/turns/<uuid:turn>/", views.TurnDetailView.as_view(), name="turn_detail"),
    path(f"{prefix}/sessions/", views.SessionDetailView.as_view(), name="session_detail"),
    path(f"{prefix}/waiting/", views.WaitingListView.as_view(), name="waiting_list"),
    path(f"{prefix}/capture-counts/", views.ProjectCountsView.as_view(), name="project_capture_counts"),
]
