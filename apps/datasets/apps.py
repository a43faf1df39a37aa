from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    """Eval datasets: immutable versions of cases copied from confirmed failures, with lineage."""

    name = "apps.datasets"
    label = "datasets"
