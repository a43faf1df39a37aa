from __future__ import annotations

import logging

from config.celery_app import app

logger = logging.getLogger(__name__)


def _project(project_id):
    from apps.projects.models import Project

    project = Project.all_tenants.select_related("organization").filter(pk=project_id).first()  # unscoped: a task resolves its tenant by id
    if project is None:
        logger.info("detection skipped: project %s is gone", project_id)
    return project


@app.task(name="detection.detect_session", acks_late=True, ignore_result=True)
def detect_session_task(*, project_id: str, session_id: str) -> None:
    """Detect over one session after its turns landed. Safe twice: signals are unique."""
    project = _project(project_id)
    if project is not None:
        from apps.detection.services.run import detect_session

        detect_session(project=project, session_id=session_id)


@app.task(name="detection.detect_sessions", acks_late=True, ignore_result=True)
def detect_sessions_task(*, project_id: str, session_ids: list[str]) -> None:
    """Detect over the sessions one ingestion batch touched (the after-commit path). Safe twice."""
    project = _project(project_id)
    if project is not None:
        from apps.detection.services.run import detect_sessions

        detect_sessions(project=project, session_ids=session_ids)


@app.task(name="detection.detect_turns", acks_late=True, ignore_result=True)
def detect_turns_task(*, project_id: str, turn_ids: list[str]) -> None:
    """Detect over turns without a session (and anything named by id). Safe twice."""
    project = _project(project_id)
    if project is not None:
        from apps.detection.services.run import detect_turns

        detect_turns(project=project, turn_ids=turn_ids)


@app.task(name="detection.sweep", acks_late=True, ignore_result=True)
def sweep() -> None:
    """Beat: catch turns whose task was lost (e.g. Redis down) and due abandonment rechecks."""
    from apps.detection.services.sweep import detection_sweep

    examined = detection_sweep()
    if examined:
        logger.info("detection sweep examined %s turns", examined)


@app.task(name="detection.judge", acks_late=True, ignore_result=True)
def judge_task(*, project_id: str, turn_ids: list[str]) -> None:
    """The LLM judge over turns a detection pass closed (apps.detection.services.judge). Safe
    twice: a stored verdict is a cache hit. Turns the rate limit deferred come back later."""
    project = _project(project_id)
    if project is None:
        return
    from apps.core.tasks import publish
    from apps.detection.services.judge import judge_turns

    run = judge_turns(project=project, turn_ids=turn_ids)
    if run.deferred:
        publish("detection.judge", {"project_id": str(project_id), "turn_ids": run.deferred}, countdown=run.retry_in)
