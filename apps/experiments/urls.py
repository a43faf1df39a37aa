from django.urls import path

from apps.experiments import converters, views, views_changes  # noqa: F401 - converters registers promptname/labelname

prefix = "orgs/<slug:org>/projects/<uuid:project>/prompts"
urlpatterns = [
    path(f"{prefix}/", views.PromptListView.as_view(), name="prompt_list"),
    path(f"{prefix}/<promptname:prompt>/", views.PromptDetailView.as_view(), name="prompt_detail"),
    path(f"{prefix}/<promptname:prompt>/versions/", views.PromptVersionCreateView.as_view(), name="prompt_version_create"),
    path(f"{prefix}/<promptname:prompt>/versions/<int:version>/", views.PromptVersionView.as_view(), name="prompt_version"),
    path(f"{prefix}/<promptname:prompt>/diff/", views.PromptDiffView.as_view(), name="prompt_diff"),
    path(f"{prefix}/<promptname:prompt>/labels/", views.PromptLabelMoveView.as_view(), name="prompt_label_move"),
    path(f"{prefix}/<promptname:prompt>/labels/<labelname:label>/rollback/", views.PromptLabelRollbackView.as_view(),
         name="prompt_label_rollback"),
    path(f"{prefix}/<promptname:prompt>/labels/<labelname:label>/protection/", views.PromptLabelProtectionView.as_view(),
         name="prompt_label_protection"),
    path("orgs/<slug:org>/projects/<uuid:project>/changes/", views_changes.ChangeListView.as_view(), name="change_list"),
    path("orgs/<slug:org>/projects/<uuid:project>/changes/<int:change>/", views_changes.ChangeDetailView.as_view(), name="change_detail"),
    path("orgs/<slug:org>/projects/<uuid:project>/changes/<int:change>/promote/", views_changes.ChangePromoteView.as_view(), name="change_promote"),
    path("orgs/<slug:org>/projects/<uuid:project>/changes/<int:change>/rollback/", views_changes.ChangeRollbackView.as_view(), name="change_rollback"),
    path("orgs/<slug:org>/projects/<uuid:project>/changes/<int:change>/validations/new/", views_changes.ValidationNewView.as_view(),
         name="validation_new"),
    path("orgs/<slug:org>/projects/<uuid:project>/validations/<int:validation>/", views_changes.ValidationDetailView.as_view(),
         name="validation_detail"),
]

from apps.experiments import views_experiments  # noqa: E402

experiments_prefix = "orgs/<slug:org>/projects/<uuid:project>/experiments"
urlpatterns += [
    path(f"{experiments_prefix}/", views_experiments.ExperimentListView.as_view(), name="experiment_list"),
    path(f"{experiments_prefix}/<int:experiment>/", views_experiments.ExperimentDetailView.as_view(), name="experiment_detail"),
    path(f"{experiments_prefix}/<int:experiment>/compare/", views_experiments.ExperimentCompareView.as_view(), name="experiment_compare"),
]
