from django.urls import path

from apps.problems import views

prefix = "orgs/<slug:org>/projects/<uuid:project>/problems"
urlpatterns = [
    path(f"{prefix}/", views.ProblemListView.as_view(), name="problem_list"),
    path(f"{prefix}/<int:problem>/", views.ProblemDetailView.as_view(), name="problem_detail"),
    path(f"{prefix}/<int:problem>/rename/", views.ProblemRenameView.as_view(), name="problem_rename"),
    path(f"{prefix}/<int:problem>/status/", views.ProblemStatusView.as_view(), name="problem_status"),
    path(f"{prefix}/<int:problem>/cause/", views.ProblemCauseView.as_view(), name="problem_cause"),
    path(f"{prefix}/<int:problem>/merge/", views.ProblemMergeView.as_view(), name="problem_merge"),
    path(f"{prefix}/<int:problem>/split/", views.ProblemSplitView.as_view(), name="problem_split"),
]
