from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    """Prompt and tool versions with labels; experiments, changes and their validations."""

    name = "apps.experiments"
    label = "experiments"
