"""The Celery queues, one enum, and which task goes to which (by the app prefix of its name).

Workers serve every queue by default (``config/celery_app.py`` declares them all); one worker per
queue is ``celery -A config.celery_app worker -Q detect`` and so on.
"""

from __future__ import annotations

from enum import StrEnum


class Queue(StrEnum):
    INGEST = "ingest"        # capture work off the request path (none yet: a 2xx means committed)
    DETECT = "detect"        # detectors over sessions and turns, the detection sweep
    REVIEW = "review"        # routing flagged turns into review queues
    CLUSTER = "cluster"      # clustering into problems
    LIFECYCLE = "lifecycle"  # expiry, heartbeats and other housekeeping
    VALIDATE = "validate"    # validation of changes (A/B, offline)
    JUDGE = "judge"          # the LLM judge: slow calls to a customer's model endpoint, kept off DETECT


# A task's queue comes from the app prefix of its stable name ("detection.detect_sessions").
QUEUE_BY_PREFIX = {
    "detection": Queue.DETECT,
    "review": Queue.REVIEW,
    "problems": Queue.CLUSTER,
    "datasets": Queue.LIFECYCLE,
    "traces": Queue.LIFECYCLE,
    "governance": Queue.LIFECYCLE,
    "core": Queue.LIFECYCLE,
    "experiments": Queue.VALIDATE,
}


# Tasks that do not follow their app's queue.
QUEUE_BY_NAME = {
    "detection.judge": Queue.JUDGE,
}


def queue_for(task_name: str) -> Queue:
    if task_name in QUEUE_BY_NAME:
        return QUEUE_BY_NAME[task_name]
    prefix = task_name.split(".", 1)[0]
    try:
        return QUEUE_BY_PREFIX[prefix]
    except KeyError:
        raise LookupError(f"task {task_name!r} has no queue: add its app to apps.core.queues.QUEUE_BY_PREFIX") from None
