"""``manage.py expire [--dry-run] [--project ID]``: the expire job by hand.

``--dry-run`` prints, per project, the same preview the retention page shows (what the next run
deletes, what stays held); without it, it runs the job project by project with a progress bar.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.governance.expiry import BATCH_SIZE, expiry_preview, project_expire
from apps.projects.models import Project


class Command(BaseCommand):
    help = "Delete turns past their retention (not held), in bounded batches; --dry-run previews."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Print what would be deleted; delete nothing.")
        parser.add_argument("--project", help="Only this project (its id).")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE,
                            help=f"Turns per transaction (default {BATCH_SIZE}); smaller batches hold less WAL per commit.")

    def handle(self, *args, dry_run=False, project=None, batch_size=BATCH_SIZE, **options):
        if not 1 <= batch_size <= 100_000:
            raise CommandError("--batch-size must be between 1 and 100000.")
        projects = Project.all_tenants.select_related("organization").order_by("organization__slug", "name")  # unscoped: operator command over every project
        if project:
            projects = projects.filter(pk=project)
        for current in projects:
            preview = expiry_preview(project=current)
            label = f"{current.organization.slug}/{current.name}"
            retention = preview.retention
            self.stdout.write(
                f"{label}: retention {retention.days} days ({retention.source}), rejected {retention.rejected_days} days: "
                f"{'would delete' if dry_run else 'deleting'} {preview.deletes} turns past retention "
                f"and {preview.rejected} rejected; {preview.held} held turns stay"
            )
            if dry_run or not preview.total:
                continue
            bar = _ProgressBar(self.stdout, total=preview.total)
            counts = project_expire(project=current, batch_size=batch_size, progress=bar.advance)
            bar.finish()
            self.stdout.write("  deleted " + ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items())))


class _ProgressBar:
    """A one-line bar on a terminal; plain lines otherwise (logs, tests)."""

    WIDTH = 30

    def __init__(self, out, *, total: int):
        self.out, self.total, self.done = out, max(total, 1), 0
        self.tty = out.isatty()

    def advance(self, counts) -> None:
        self.done += counts.get("turns", 0)
        filled = min(self.WIDTH, self.WIDTH * self.done // self.total)
        line = f"  [{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total} turns"
        if self.tty:
            self.out.write("\r" + line, ending="")
            self.out.flush()
        else:
            self.out.write(line)

    def finish(self) -> None:
        if self.tty:
            self.out.write("")
