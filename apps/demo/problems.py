"""Demo backlog: run the detectors over the demo project's turns (idempotent; the worker may
already have), then the clustering job, so the backlog shows ranked problems with causes.

Safe to call again: detection stores each signal once, clustering is incremental.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from apps.detection.services.run import detect_turns
from apps.problems.models import Problem, ProblemStatus
from apps.problems.services.clustering import LAG, problems_cluster
from apps.traces.models import Turn


def seed_problems_demo(*, project) -> dict:
    turn_ids = list(Turn.objects.for_project(project).values_list("id", flat=True)[:5000])
    if turn_ids:
        detect_turns(project=project, turn_ids=turn_ids)
    # Past the job's commit lag, so this run's watermarks settle on everything just written.
    summary = problems_cluster(project=project, now=timezone.now() + LAG + dt.timedelta(seconds=1))
    problems = list(
        Problem.objects.for_project(project).exclude(status=ProblemStatus.MERGED).order_by("-pain").values_list("title", "cause")
    )
    return {"clustering": summary, "problems": problems}
