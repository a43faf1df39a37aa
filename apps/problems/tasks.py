"""Clustering on the worker: one task per project, and a beat entry that visits every project
with failure signals or review decisions.

Both are safe to run twice and concurrently: a run holds a per-project advisory lock (a second
one skips) and starts from the watermarks the previous run committed.
"""

from __future__ import annotations

import logging

from config.celery_app import app

logger = logging.getLogger(__name__)


@app.task(name="problems.cluster_project", acks_late=True, ignore_result=True)
def cluster_project(*, project_id: str) -> None:
    from apps.problems.services.clustering import problems_cluster
    from apps.projects.models import Project

    project = Project.all_tenants.select_related("organization").filter(pk=project_id).first()  # unscoped: a task resolves its tenant by id
    if project is None:
        logger.info("problems.cluster_project: project %s is gone", project_id)
        return
    summary = problems_cluster(project=project)
    if summary.get("placed") or summary.get("left") or summary.get("created"):
        logger.info("problems.cluster_project %s: %s", project_id, summary)


@app.task(name="problems.cluster_all", acks_late=True, ignore_result=True)
def cluster_all() -> None:
    """Beat, a catch-up sweep: routing publishes a clustering run when it adds items, so this only
    catches up after a lost publish. It visits the projects with evidence past their clustering
    watermarks (problems.selectors.clustering_projects_behind), nothing else."""
    from apps.core.tasks import publish
    from apps.problems.selectors import clustering_projects_behind

    for project_id in clustering_projects_behind():
        publish(cluster_project.name, {"project_id": str(project_id)})
