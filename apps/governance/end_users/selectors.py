"""Reading everything held about one end user: counts per kind, and the streamed export.

Rows are found as ``tables.py`` lists. The export is one JSON document written as it is read:
the user's turns in keyset chunks of ``CHUNK`` (``(created_at, id)`` after the last one, on the
``(project, end_user_id, created_at)`` index), each chunk's children fetched by ``turn_id`` and
nested under their turn, then the rows that carry the user's id without being reached through
one of their turns (feedback on someone else's turn or waiting for its turn, problem memberships
and dataset cases whose turn is gone). Memory stays one chunk whatever the user's history.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Iterator

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from apps.core.audit import AuditAction
from apps.core.errors import NotFound, ValidationFailed
from apps.core.text import InvalidText, clean_text
from apps.datasets.models import CaseRevision
from apps.detection.models import DetectionPass
from apps.governance.models import AuditEvent
from apps.problems.models import ProblemTurn
from apps.review.models import Decision, ReviewItem
from apps.traces.models import Feedback, Signal, Step, Turn

CHUNK = 500
MAX_LENGTH = 200  # Turn.end_user_id
KINDS = (
    "turns", "steps", "signals", "feedback", "waiting", "detection_passes", "review_items", "decisions",
    "problem_memberships", "dataset_cases",
)
DIGEST_SALT = "agentloop.end-user"


def end_user_id_clean(raw) -> str:
    """The id as stored (any characters, up to 200); NUL and lone surrogates are refused (400)."""
    if not isinstance(raw, str) or not raw:
        raise ValidationFailed("An end-user id is a non-empty string.", field="end_user_id")
    if len(raw) > MAX_LENGTH:
        raise ValidationFailed(f"An end-user id is at most {MAX_LENGTH} characters.", field="end_user_id")
    try:
        clean = clean_text(raw)
    except InvalidText:
        clean = None
    if clean != raw:  # a lone surrogate, or a NUL (which clean_text would drop)
        raise ValidationFailed("An end-user id cannot contain NUL or lone surrogates.", field="end_user_id")
    return raw


def end_user_digest(*, organization, end_user_id: str, secret: str | None = None) -> str:
    """What the audit log records instead of the id: a keyed hash, per organization. An admin who
    knows the id finds its history (``end_user_history``); the log alone does not reveal it, and a
    guess cannot be checked without the secret key."""
    value = f"{organization.pk}:{end_user_id}"
    return salted_hmac(DIGEST_SALT, value, secret=secret or settings.SECRET_KEY, algorithm="sha256").hexdigest()[:32]


def end_user_history(*, organization, end_user_id: str, limit: int = 20):
    """The audit rows of exports and deletions of this end user, newest first (digests under the
    current key and each fallback, so a key rotation does not hide older rows)."""
    digests = [
        end_user_digest(organization=organization, end_user_id=end_user_id, secret=secret)
        for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)
    ]
    return list(
        AuditEvent.objects.for_org(organization)
        .filter(action__in=[AuditAction.END_USER_EXPORTED, AuditAction.END_USER_DELETED], target_id__in=digests)
        .order_by("-created_at", "-id")[:limit]
    )


def end_user_requests_recent(*, organization, limit: int = 10):
    """The organization's latest end-user exports and deletions (digests, never ids)."""
    return list(
        AuditEvent.objects.for_org(organization)
        .filter(action__in=[AuditAction.END_USER_EXPORTED, AuditAction.END_USER_DELETED])
        .order_by("-created_at", "-id")[:limit]
    )


# --- which rows are the user's ----------------------------------------------------------------


def user_turns(project, end_user_id: str):
    return Turn.objects.for_project(project).filter(end_user_id=end_user_id)


def _turn_ids(project, end_user_id: str):
    return user_turns(project, end_user_id).values("id")


def _turn_absent(project):
    return ~Exists(Turn.objects.for_project(project).filter(id=OuterRef("turn_id")))


def own_feedback(project, end_user_id: str):
    """Feedback carrying the user's id that is not on one of their turns (those go with the turn)."""
    return Feedback.objects.for_project(project).filter(end_user_id=end_user_id).exclude(
        turn_id__in=_turn_ids(project, end_user_id)
    )


def case_match(project, end_user_id: str) -> Q:
    return Q(turn_id__in=_turn_ids(project, end_user_id)) | Q(metadata__end_user_id=end_user_id)


def membership_match(project, end_user_id: str) -> Q:
    return Q(turn_id__in=_turn_ids(project, end_user_id)) | Q(affected_key=end_user_id)


def end_user_counts(*, project, end_user_id: str) -> dict[str, int]:
    """Rows held about the user in ``project``, by kind (``KINDS``)."""
    ids = _turn_ids(project, end_user_id)
    waiting = own_feedback(project, end_user_id).filter(_turn_absent(project))
    return {
        "turns": user_turns(project, end_user_id).count(),
        "steps": Step.objects.for_project(project).filter(turn_id__in=ids).count(),
        "signals": Signal.objects.for_project(project).filter(turn_id__in=ids).count(),
        "feedback": Feedback.objects.for_project(project).filter(turn_id__in=ids).count()
        + own_feedback(project, end_user_id).count() - waiting.count(),
        "waiting": waiting.count(),
        "detection_passes": DetectionPass.objects.for_project(project).filter(turn_id__in=ids).count(),
        "review_items": ReviewItem.objects.for_project(project).filter(turn_id__in=ids).count(),
        "decisions": Decision.objects.for_project(project).filter(item__turn_id__in=ids).count(),
        "problem_memberships": ProblemTurn.objects.for_project(project).filter(membership_match(project, end_user_id)).count(),
        "dataset_cases": CaseRevision.objects.for_project(project)
        .filter(case_match(project, end_user_id), erased_at__isnull=True).count(),
    }


def end_user_counts_or_404(*, projects, end_user_id: str) -> dict:
    """``{project: counts}`` over ``projects``; 404 ``end_user_not_found`` when nothing is held."""
    counts = {project: end_user_counts(project=project, end_user_id=end_user_id) for project in projects}
    if not any(any(kinds.values()) for kinds in counts.values()):
        raise NotFound("Nothing is stored for this end user.", code="end_user_not_found")
    return counts


# --- the export ---------------------------------------------------------------------------------


def _fields(model, *, leave_out=("project",)) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields if field.name not in leave_out]


def _by_turn(queryset, fields) -> dict:
    grouped = defaultdict(list)
    for row in queryset.values(*fields):
        grouped[row["turn_id"]].append(row)
    return grouped


def _case_fields() -> list[str]:
    return _fields(CaseRevision)


def _turn_chunks(project, end_user_id: str) -> Iterator[list[dict]]:
    fields = _fields(Turn)
    after = None
    while True:
        turns = user_turns(project, end_user_id)
        if after is not None:
            turns = turns.filter(Q(created_at__gt=after[0]) | Q(created_at=after[0], id__gt=after[1]))
        rows = list(turns.order_by("created_at", "id").values(*fields)[:CHUNK])
        if rows:
            yield rows
        if len(rows) < CHUNK:
            return
        after = (rows[-1]["created_at"], rows[-1]["id"])


def _nested_turns(project, end_user_id: str, counts: Counter) -> Iterator[dict]:
    step_fields, signal_fields, feedback_fields = _fields(Step), _fields(Signal), _fields(Feedback)
    pass_fields, membership_fields = _fields(DetectionPass), _fields(ProblemTurn)
    item_fields, decision_fields = _fields(ReviewItem), _fields(Decision)
    for turns in _turn_chunks(project, end_user_id):
        ids = [turn["id"] for turn in turns]
        steps = _by_turn(Step.objects.for_project(project).filter(turn_id__in=ids).order_by("started_at", "id"), step_fields)
        signals = _by_turn(Signal.objects.for_project(project).filter(turn_id__in=ids).order_by("created_at", "id"), signal_fields)
        feedback = _by_turn(Feedback.objects.for_project(project).filter(turn_id__in=ids).order_by("created_at"), feedback_fields)
        passes = _by_turn(DetectionPass.objects.for_project(project).filter(turn_id__in=ids), pass_fields)
        memberships = _by_turn(ProblemTurn.objects.for_project(project).filter(turn_id__in=ids), membership_fields)
        cases = _by_turn(
            CaseRevision.objects.for_project(project).filter(turn_id__in=ids, erased_at__isnull=True).order_by("id"),
            _case_fields(),
        )
        items = list(ReviewItem.objects.for_project(project).filter(turn_id__in=ids).order_by("id").values(*item_fields))
        decisions = defaultdict(list)
        for row in Decision.objects.for_project(project).filter(item_id__in=[i["id"] for i in items]).order_by("id").values(*decision_fields):
            decisions[row["item_id"]].append(row)
        by_turn_items = defaultdict(list)
        for item in items:
            item["decisions"] = decisions[item["id"]]
            by_turn_items[item["turn_id"]].append(item)
            counts["decisions"] += len(item["decisions"])
        for turn in turns:
            key = turn["id"]
            nested = {
                "steps": steps[key], "signals": signals[key], "feedback": feedback[key],
                "detection_passes": passes[key], "review_items": by_turn_items[key],
                "problem_memberships": memberships[key], "dataset_cases": cases[key],
            }
            counts["turns"] += 1
            for kind, rows in nested.items():
                counts[kind] += len(rows)
            yield {**turn, **nested}


def _others(project, end_user_id: str, counts: Counter) -> dict[str, list]:
    """Rows carrying the user's id without one of their turns: feedback (on anyone's turn),
    waiting feedback (no turn yet), memberships and cases whose turn is gone."""
    waiting_ids = set(own_feedback(project, end_user_id).filter(_turn_absent(project)).values_list("id", flat=True))
    feedback, waiting = [], []
    for row in own_feedback(project, end_user_id).order_by("created_at").values(*_fields(Feedback)):
        (waiting if row["id"] in waiting_ids else feedback).append(row)
    memberships = list(
        ProblemTurn.objects.for_project(project).filter(affected_key=end_user_id)
        .exclude(turn_id__in=_turn_ids(project, end_user_id)).values(*_fields(ProblemTurn))
    )
    cases = list(
        CaseRevision.objects.for_project(project).filter(metadata__end_user_id=end_user_id, erased_at__isnull=True)
        .exclude(turn_id__in=_turn_ids(project, end_user_id)).order_by("id").values(*_case_fields())
    )
    others = {"feedback": feedback, "waiting": waiting, "problem_memberships": memberships, "dataset_cases": cases}
    for kind, rows in others.items():
        counts[kind] += len(rows)
    return others


def _dumps(value) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def end_user_export(*, projects, end_user_id: str) -> Iterator[bytes]:
    """The export document, in pieces: ``{"end_user_id", "exported_at", "projects": [{"id", "name",
    "turns": [turn + its rows], "feedback", "waiting", "problem_memberships", "dataset_cases",
    "counts"}], "counts"}`` (``counts`` by kind, as ``end_user_counts`` reports them)."""
    totals = Counter()
    yield (f'{{"end_user_id":{_dumps(end_user_id)},"exported_at":{_dumps(timezone.now())},"projects":[').encode()
    for index, project in enumerate(projects):
        counts = Counter()
        head = f'{"," if index else ""}{{"id":{_dumps(str(project.pk))},"name":{_dumps(project.name)},"turns":['
        yield head.encode()
        for position, turn in enumerate(_nested_turns(project, end_user_id, counts)):
            yield (("," if position else "") + _dumps(turn)).encode()
        others = _others(project, end_user_id, counts)
        tail = "".join(f',"{kind}":{_dumps(rows)}' for kind, rows in others.items())
        yield f'],{tail[1:]},"counts":{_dumps(_complete(counts))}}}'.encode()
        totals.update(counts)
    yield f'],"counts":{_dumps(_complete(totals))}}}'.encode()


def _complete(counts: Counter) -> dict[str, int]:
    return {kind: counts.get(kind, 0) for kind in KINDS}
