from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    """Eval datasets: immutable versions of cases copied from confirmed failures, with lineage."""

    name = "apps.datasets"
    label = "datasets"

    def ready(self):
        from django.db.models.signals import pre_delete

        from apps.core import hooks
        from apps.datasets import lookups
        from apps.datasets.services import integrations

        lookups.register()
        hooks.register("datasets.decision_final", integrations.decision_final)
        hooks.register("datasets.review_panel", integrations.review_panel)
        hooks.register("datasets.review_decided", integrations.review_decided)
        hooks.register("datasets.turn_actions", integrations.turn_actions)
        hooks.register("datasets.problem_actions", integrations.problem_actions)
        # A deleted project or dataset takes its dataset history with it: the only deletion the
        # database allows (migration 0002). Sent before the cascade deletes the revisions.
        for model in ("projects.Project", "organizations.Organization", "datasets.Dataset"):
            pre_delete.connect(_allow_purge, sender=model, dispatch_uid=f"datasets-purge-{model}")


def _allow_purge(sender, **kwargs):
    from apps.datasets.services.datasets import dataset_purge_allow

    dataset_purge_allow()
