"""Reading everything held about one end user: counts per kind, and the streamed export.

Rows are found as ``tables.py`` lists. The export is one JSON document written as it is read:
the user's turns in keyset chunks of ``CHUNK`` (``(created_at, id)`` after the last one, on the
``(project, end_user_id, created_at)`` index), each turn's rows nested under it by PostgreSQL
(one statement a chunk; the document's text is never parsed in Python), then the rows that carry
the user's id without being reached through one of their turns (feedback on someone else's turn
or waiting for its turn, problem memberships and dataset cases whose turn is gone). Memory stays
one chunk whatever the user's history.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections import Counter, defaultdict
from typing import Iterator

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from apps.core.audit import AuditAction
from apps.core.errors import NotFound, ValidationFailed
from apps.core.sql import tenant_sql
from apps.core.text import InvalidText, clean_text
from apps.datasets.models import CaseRevision
from apps.detection.models import DetectionPass, JudgeVerdict
from apps.governance.models import AuditEvent
from apps.problems.models import ProblemTurn
from apps.review.models import Decision, ReviewItem
from apps.traces.models import Feedback, Signal, Step, Turn

CHUNK = 500
MAX_LENGTH = 200  # Turn.end_user_id
KINDS = (
    "turns", "steps", "signals", "feedback", "waiting", "detection_passes", "judge_verdicts", "review_items", "decisions",
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
        "judge_verdicts": JudgeVerdict.objects.for_project(project).filter(turn_id__in=ids).count(),
        "review_items": ReviewItem.objects.for_project(project).filter(turn_id__in=ids).count(),
        "decisions": Decision.objects.for_project(project).filter(item__turn_id__in=ids).count(),
        "problem_memberships": ProblemTurn.objects.for_project(project).filter(membership_match(project, end_user_id)).count(),
        "dataset_cases": CaseRevision.objects.for_project(project)
        .filter(case_match(project, end_user_id), erased_at__isnull=True).count(),
    }


def end_user_counts_or_404(*, projects, end_user_id: str) -> dict:
    """``{project: counts}`` over ``projects``; 404 ``not_found`` when nothing is held."""
    counts = {project: end_user_counts(project=project, end_user_id=end_user_id) for project in projects}
    if not any(any(kinds.values()) for kinds in counts.values()):
        raise NotFound("Nothing is stored for this end user.", code="not_found")
    return counts


# --- the export ---------------------------------------------------------------------------------


def _fields(model, *, leave_out=("project",)) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields if field.name not in leave_out]


def _case_fields() -> list[str]:
    return _fields(CaseRevision)


def _children_sql() -> tuple[str, list[str]]:
    """The per-turn JSON of its rows, built by PostgreSQL (no JSON parsed and re-encoded in
    Python: that was two thirds of the export's time), and the kinds in order."""
    def rows(model, alias: str, order: str, where: str = "", extra: str = "") -> str:
        table = model._meta.db_table
        return (
            f"(SELECT coalesce(jsonb_agg((to_jsonb({alias}) - 'project_id'){extra} ORDER BY {order}), '[]'::jsonb) "
            f"FROM {table} {alias} WHERE {alias}.project_id = t.project_id AND {alias}.turn_id = t.id{where})"
        )

    decisions = (
        f" || jsonb_build_object('decisions', (SELECT coalesce(jsonb_agg(to_jsonb(d) - 'project_id' ORDER BY d.id), '[]'::jsonb) "
        f"FROM {Decision._meta.db_table} d WHERE d.project_id = i.project_id AND d.item_id = i.id))"
    )
    children = {
        "steps": rows(Step, "s", "s.started_at, s.id"),
        "signals": rows(Signal, "g", "g.created_at, g.id"),
        "feedback": rows(Feedback, "f", "f.created_at, f.id"),
        "detection_passes": rows(DetectionPass, "p", "p.id"),
        "judge_verdicts": rows(JudgeVerdict, "j", "j.id"),
        "review_items": rows(ReviewItem, "i", "i.id", extra=decisions),
        "problem_memberships": rows(ProblemTurn, "m", "m.id"),
        "dataset_cases": rows(CaseRevision, "c", "c.id", where=" AND c.erased_at IS NULL"),
    }
    build = ", ".join(f"'{kind}', {sql}" for kind, sql in children.items())
    lengths = ", ".join(f"jsonb_array_length(doc->'{kind}')" for kind in children)
    decision_count = "(SELECT coalesce(sum(jsonb_array_length(item->'decisions')), 0) FROM jsonb_array_elements(doc->'review_items') item)"
    sql = f"""
        WITH t AS (
            SELECT * FROM {Turn._meta.db_table}
            WHERE project_id = %(project_id)s AND end_user_id = %(end_user_id)s AND (created_at, id) > (%(after_at)s, %(after_id)s)
            ORDER BY created_at, id LIMIT %(limit)s
        )
        SELECT t.created_at, t.id, doc::text, {lengths}, {decision_count}
        -- OFFSET 0 keeps the document built once: inlined, each reference to doc below would rebuild it.
        FROM t CROSS JOIN LATERAL (SELECT (to_jsonb(t) - 'project_id') || jsonb_build_object({build}) AS doc OFFSET 0) built
        ORDER BY t.created_at, t.id
    """
    return sql, list(children)


def _nested_turns(project, end_user_id: str, counts: Counter) -> Iterator[str]:
    """Each of the user's turns as JSON text with its rows nested, in ``(created_at, id)`` order."""
    sql, kinds = _children_sql()
    after_at, after_id = datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc), uuid.UUID(int=0)
    while True:
        with tenant_sql(project=project) as cursor:
            cursor.execute(sql, {"end_user_id": end_user_id, "after_at": after_at, "after_id": after_id, "limit": CHUNK})
            rows = cursor.fetchall()
        for row in rows:
            counts["turns"] += 1
            for kind, length in zip(kinds, row[3:3 + len(kinds)]):
                counts[kind] += length
            counts["decisions"] += row[-1]
            yield row[2]
        if len(rows) < CHUNK:
            return
        after_at, after_id = rows[-1][0], rows[-1][1]


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
            yield (("," if position else "") + turn).encode()
        others = _others(project, end_user_id, counts)
        tail = "".join(f',"{kind}":{_dumps(rows)}' for kind, rows in others.items())
        yield f'],{tail[1:]},"counts":{_dumps(_complete(counts))}}}'.encode()
        totals.update(counts)
    yield f'],"counts":{_dumps(_complete(totals))}}}'.encode()


def _complete(counts: Counter) -> dict[str, int]:
    return {kind: counts.get(kind, 0) for kind in KINDS}
