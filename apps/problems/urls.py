from django.urls import path

from apps.problems import views

prefix = "orgs/<slug:org>/projects/<uuid:project>/problems"
urlpatterns = [
    path(f"{prefix}/", views.ProblemListView.as_view(), name="problem_list"),
    path(f"{prefix}/<int:problem>/", views.ProblemDetailView.as_view(), name="problem_detail"),
]
