"""Key-authenticated prompt and experiment routes under /api/v1/ (the project key names the project)."""

from django.urls import path

from apps.experiments import api_experiments, api_keys, converters  # noqa: F401 - registers the converters

urlpatterns = [
    path("prompts/<promptname:prompt>", api_keys.PromptFetchView.as_view(), name="api-key-prompt"),
    path("prompts/<promptname:prompt>/versions", api_keys.PromptVersionCreateView.as_view(), name="api-key-prompt-versions"),
    path("prompts/<promptname:prompt>/labels/<labelname:label>", api_keys.PromptLabelMoveView.as_view(), name="api-key-prompt-label"),
    path("experiments", api_experiments.ExperimentCreateView.as_view(), name="api-key-experiments"),
    path("experiments/<int:experiment_id>", api_experiments.ExperimentDetailView.as_view(), name="api-key-experiment"),
    path("experiments/<int:experiment_id>/results", api_experiments.ExperimentResultsView.as_view(), name="api-key-experiment-results"),
    path("experiments/<int:experiment_id>/outputs", api_experiments.ExperimentOutputsView.as_view(), name="api-key-experiment-outputs"),
]
