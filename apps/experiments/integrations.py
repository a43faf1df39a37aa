"""What experiments shows on lower floors' pages (registered as hooks at ready()): the changes
addressing a problem, and the open post-deploy regressions on the backlog."""

from __future__ import annotations

from django.urls import reverse

from apps.experiments.models import Change, Regression, Validation


def _change_url(organization, project, change_id) -> str:
    return reverse("change_detail", kwargs={"org": organization.slug, "project": project.pk, "change": change_id})


def problem_changes(*, project, organization, problem) -> list[dict]:
    through = Change.problems.through
    ids = list(through.objects.filter(problem_id=problem.pk).values_list("change_id", flat=True))
    changes = Change.objects.for_project(project).filter(pk__in=ids).order_by("-created_at")
    out = []
    for change in changes:
        latest = Validation.objects.for_project(project).filter(change=change).order_by("-created_at", "-id").first()
        out.append({"title": change.title, "status": change.get_status_display(), "verdict": latest.verdict if latest else "none",
                    "url": _change_url(organization, project, change.pk)})
    return out


def backlog_regressions(*, project, organization) -> list[dict]:
    rows = Regression.objects.for_project(project).filter(resolved_at__isnull=True).select_related("change").order_by("-raised_at")[:20]
    return [{"title": r.change.title, "explanation": r.explanation, "url": _change_url(organization, project, r.change_id)} for r in rows]
