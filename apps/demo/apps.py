from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo organization and its traffic, seeded on every floor; the top floor, imported by nothing."""

    name = "apps.demo"
    label = "demo"
