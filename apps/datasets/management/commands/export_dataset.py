"""``manage.py export_dataset --project <uuid> --dataset NAME [--dataset-version N] [--format jsonl|csv|openai] [--output FILE]``

Writes one version of a dataset in constant memory (the same stream as the API's export), with a
progress bar on stderr (cases done / total, rate). Without ``--output`` the file goes to stdout.
"""

from __future__ import annotations

import sys
import time

from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import NotFound
from apps.datasets.selectors import datasets as selectors
from apps.datasets.selectors.export import FORMATS, export_lines
from apps.projects.models import Project


def _bar(done: int, total: int, started: float, width: int = 30) -> str:
    share = done / total if total else 1.0
    filled = int(width * share)
    rate = done / max(time.monotonic() - started, 1e-6)
    return f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} cases {share:6.1%} {rate:,.0f}/s"


class Command(BaseCommand):
    help = "Export one version of a dataset as JSONL, CSV or OpenAI chat fine-tuning JSONL, with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="The project's id (UUID).")
        parser.add_argument("--dataset", required=True, help="The dataset's name.")
        parser.add_argument("--dataset-version", dest="dataset_version", type=int, help="Version number (default: the latest).")
        parser.add_argument("--format", default="jsonl", choices=list(FORMATS))
        parser.add_argument("--output", help="File to write (default: stdout).")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        project = Project.all_tenants.filter(pk=options["project"]).first()  # unscoped: an operator's command names its project
        if project is None:
            raise CommandError("No such project.")
        try:
            dataset = selectors.dataset_get_by_name(project=project, name=options["dataset"])
            number = selectors.version_number_resolve(dataset=dataset, raw=options["dataset_version"])
            total = selectors.version_get(dataset=dataset, number=number).cases_count
        except NotFound as error:
            raise CommandError(error.message) from None
        progress = sys.stderr if not options["no_progress"] else None
        started = time.monotonic()

        def on_row(done: int) -> None:
            if progress is not None:
                progress.write(_bar(done, total, started))
                progress.flush()

        target = open(options["output"], "w", encoding="utf-8", newline="") if options["output"] else sys.stdout
        try:
            for piece in export_lines(dataset=dataset, number=number, fmt=options["format"], on_row=on_row):
                target.write(piece)
        finally:
            if options["output"]:
                target.close()
        if progress is not None:
            progress.write(f"\nExported {dataset.name} v{number} ({total:,} cases, {options['format']}) in {time.monotonic() - started:.1f} s\n")
