from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    """Prompt and tool versions with labels; experiments, changes and their validations."""

    name = "apps.experiments"
    label = "experiments"

    def ready(self) -> None:
        from apps.core import hooks
        from apps.experiments import integrations

        hooks.register("experiments.problem_changes", integrations.problem_changes)
        hooks.register("experiments.backlog_regressions", integrations.backlog_regressions)
