from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "apps.projects"
    label = "projects"

    def ready(self) -> None:
        from apps.core import hooks
        from apps.organizations.services import MEMBER_REMOVED_HOOK
        from apps.projects import schema  # noqa: F401 - registers the OpenAPI auth scheme
        from apps.projects.services import project_access_revoke_all

        hooks.register(MEMBER_REMOVED_HOOK, project_access_revoke_all)
