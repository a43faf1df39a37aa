"""``manage.py seed_demo``: create or refresh the demo organization (apps.demo.seed)."""

from django.core.management.base import BaseCommand

from apps.demo.seed import DEMO_EMAIL, DEMO_PASSWORD, seed


class Command(BaseCommand):
    help = "Create or refresh the demo organization (safe to run any number of times)."

    def handle(self, *args, **options):
        result = seed()
        self.stdout.write(
            f"Demo organization '{result['organization']}' ready; log in as {DEMO_EMAIL} / {DEMO_PASSWORD}.\n"
            f"Demo project {result['project']}; SDK key: {result['api_key']}"
        )
