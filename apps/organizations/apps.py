from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "apps.organizations"
    label = "organizations"

    def ready(self) -> None:
        from apps.organizations import schema  # noqa: F401 - registers the OpenAPI auth schemes
