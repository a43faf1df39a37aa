"""The clustering job: place newly flagged or confirmed turns into problems, incrementally.

One run, per project, under a transaction-level advisory lock (a concurrent run for the same
project skips; a second run finds nothing new past the watermarks):

1. read what changed since the watermarks (new signals, review decisions, first detection
   passes) — apps/problems/selectors.py;
2. re-read those turns' facts (signals, latest verdict) and decide for each: join, stay (its
   snapshot refreshed), leave (no longer a failure, or rejected by a reviewer), or move (its
   grouping key changed). Pinned memberships (a person's split or merge) never move;
3. group the joining turns against the existing problems' centroids (apps/problems/grouping.py);
   existing problems are updated in place, never rebuilt;
4. refresh counters and pain for the project, propose causes where members changed.

The membership's unique ``(project, turn_id)`` is the last line of defence: an insert that
would put a turn in a second problem does nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

import numpy as np
from django.db import transaction
from django.utils import timezone

from apps.core.sql import tenant_sql
from apps.problems import selectors
from apps.problems.grouping import Item, Seed, group
from apps.problems.models import ClusteringState, Problem, ProblemStatus, ProblemTurn
from apps.problems.services.stats import problem_causes_refresh, problem_stats_refresh
from apps.problems.text import centroid_from_json, centroid_to_json, most_representative, title_from

logger = logging.getLogger(__name__)

LOCK_NAMESPACE = 0x50524F42  # "PROB": the advisory-lock class of this job, keyed by project
LAG = dt.timedelta(minutes=2)
BATCH_SIZE = 50_000
TITLE_CANDIDATES = 20
SEPARATOR = "\x1f"


def _try_lock(project) -> bool:
    with tenant_sql(project=project) as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%(namespace)s, hashtext(%(project_id)s::text))", {"namespace": LOCK_NAMESPACE}
        )
        return bool(cursor.fetchone()[0])


def _snapshot(facts) -> dict:
    flags = facts.flags
    return {
        "turn_created_at": facts.created_at, "affected_key": facts.affected_key, "severity": flags.severity,
        "category": flags.category, "key_tool": flags.key_tool, "signal_kinds": flags.kinds,
        "failed_tools": flags.failed_tools, "retrieval_gap": flags.retrieval_gap,
        "prompt_version": facts.prompt_version[:200], "model": facts.model[:200],
    }


def _representative(texts: list[str], centroid_json: dict) -> str:
    texts = [t for t in texts if t]
    index = most_representative(texts, centroid_from_json(centroid_json))
    return "" if index is None else texts[index][:2000]


def _insert_memberships(project, rows: list[tuple], now) -> int:
    """rows: (problem id, TurnFacts). ON CONFLICT: a turn already placed stays where it is."""
    if not rows:
        return 0
    snapshots = [(problem_id, facts.id, _snapshot(facts)) for problem_id, facts in rows]
    with tenant_sql(project=project) as cursor:
        cursor.execute(
            """
            INSERT INTO problems_problemturn (project_id, problem_id, turn_id, pinned, added_at, turn_created_at,
                affected_key, severity, category, key_tool, signal_kinds, failed_tools, retrieval_gap, prompt_version, model)
            SELECT %(project_id)s, u.problem_id, u.turn_id, false, %(now)s, u.created_at, u.affected, u.severity, u.category,
                u.key_tool, string_to_array(u.kinds, %(separator)s), string_to_array(u.tools, %(separator)s), u.gap, u.prompt,
                u.model
            FROM unnest(%(problems)s::bigint[], %(turns)s::uuid[], %(created)s::timestamptz[], %(affected)s::text[],
                        %(severities)s::smallint[], %(categories)s::text[], %(key_tools)s::text[], %(kinds)s::text[],
                        %(tools)s::text[], %(gaps)s::text[], %(prompts)s::text[], %(models)s::text[])
                AS u(problem_id, turn_id, created_at, affected, severity, category, key_tool, kinds, tools, gap, prompt, model)
            ON CONFLICT (project_id, turn_id) DO NOTHING
            """,
            {
                "now": now, "separator": SEPARATOR,
                "problems": [p for p, _, _ in snapshots], "turns": [t for _, t, _ in snapshots],
                "created": [s["turn_created_at"] for _, _, s in snapshots],
                "affected": [s["affected_key"] for _, _, s in snapshots],
                "severities": [s["severity"] for _, _, s in snapshots], "categories": [s["category"] for _, _, s in snapshots],
                "key_tools": [s["key_tool"] for _, _, s in snapshots],
                "kinds": [SEPARATOR.join(s["signal_kinds"]) for _, _, s in snapshots],
                "tools": [SEPARATOR.join(s["failed_tools"]) for _, _, s in snapshots],
                "gaps": [s["retrieval_gap"] for _, _, s in snapshots],
                "prompts": [s["prompt_version"] for _, _, s in snapshots], "models": [s["model"] for _, _, s in snapshots],
            },
        )
        return cursor.rowcount


def _place(*, project, turn_ids, now, summary: Counter) -> set:
    """Steps 2–3 for the changed turns; returns the ids of problems whose members changed."""
    facts = selectors.clustering_turn_facts(project=project, turn_ids=turn_ids)
    memberships = selectors.clustering_memberships(project=project, turn_ids=list(facts))
    dirty: set = set()
    leaving, refreshed, joining = [], [], []
    for turn_id, fact in facts.items():
        membership = memberships.get(turn_id)
        flags = fact.flags
        if membership is None:
            if flags.flagged:
                joining.append(fact)
            continue
        if membership.pinned:
            refreshed.append((membership, fact))
        elif not flags.flagged:
            leaving.append(membership)
        elif (membership.problem.category, membership.problem.key_tool) != (flags.category, flags.key_tool):
            leaving.append(membership)
            joining.append(fact)
            summary["moved"] += 1
        else:
            refreshed.append((membership, fact))

    if leaving:
        ProblemTurn.objects.for_project(project).filter(pk__in=[m.pk for m in leaving], pinned=False).delete()
        dirty |= {m.problem_id for m in leaving}
        summary["left"] += len(leaving)
    changed = []
    for membership, fact in refreshed:
        snapshot = _snapshot(fact)
        if any(getattr(membership, name) != value for name, value in snapshot.items()):
            for name, value in snapshot.items():
                setattr(membership, name, value)
            changed.append(membership)
    if changed:
        ProblemTurn.objects.for_project(project).bulk_update(changed, list(_snapshot(facts[changed[0].turn_id])), batch_size=1000)
        dirty |= {m.problem_id for m in changed}
        summary["refreshed"] += len(changed)
    if joining:
        dirty |= _join(project=project, joining=joining, now=now, summary=summary)
    return dirty


def _join(*, project, joining, now, summary: Counter) -> set:
    joining.sort(key=lambda f: (f.created_at, str(f.id)))
    keys = {(f.flags.category, f.flags.key_tool) for f in joining}
    seeds = selectors.clustering_seeds(project=project, keys=keys)
    items = [Item(text=f.text, key=(f.flags.category, f.flags.key_tool), prompt_version=f.prompt_version) for f in joining]
    grouping = group(items, [
        Seed(key=(p.category, p.key_tool), centroid=centroid_from_json(p.centroid), weight=p.centroid_weight,
             prompt_version=p.prompt_version)
        for p in seeds
    ])
    placed: dict[int, Problem] = {}
    updated = []
    for cluster in grouping.touched_seeds():
        problem = seeds[cluster]
        members = grouping.members[cluster]
        problem.centroid = centroid_to_json(grouping.sums[cluster])
        problem.centroid_weight += int(grouping.added[cluster])
        if not problem.title_locked:
            texts = [problem.representative_input] + [items[i].text for i in members[:TITLE_CANDIDATES]]
            problem.representative_input = _representative(texts, problem.centroid) or problem.representative_input
            problem.title = title_from(problem.representative_input)
        if problem.status == ProblemStatus.FIXED:
            problem.status, problem.regressed_at = ProblemStatus.OPEN, now
            summary["regressed"] += 1
        problem.needs_cause, problem.updated_at = True, now
        updated.append(problem)
        placed[cluster] = problem
    if updated:
        Problem.objects.for_project(project).bulk_update(updated, [
            "centroid", "centroid_weight", "representative_input", "title", "status", "regressed_at", "needs_cause", "updated_at",
        ], batch_size=500)
    created = []
    for cluster in grouping.new_clusters():
        members = grouping.members[cluster]
        centroid = centroid_to_json(grouping.sums[cluster])
        representative = _representative([items[i].text for i in members[:TITLE_CANDIDATES]], centroid)
        prompts = Counter(items[i].prompt_version for i in members)
        category, tool = grouping.keys[cluster]
        problem = Problem(
            project=project, title=title_from(representative), representative_input=representative,
            category=category, key_tool=tool, prompt_version=prompts.most_common(1)[0][0][:200],
            centroid=centroid, centroid_weight=int(grouping.added[cluster]), needs_cause=True,
            created_at=now, updated_at=now,
        )
        created.append(problem)
        placed[cluster] = problem
    if created:
        Problem.objects.bulk_create(created, batch_size=500)
    summary["created"] += len(created)
    summary["joined"] += int(sum(grouping.added[c] for c in grouping.touched_seeds()))
    rows = [(placed[int(label)].pk, joining[index]) for index, label in enumerate(np.asarray(grouping.labels).tolist())]
    summary["placed"] += _insert_memberships(project, rows, now)
    return {p.pk for p in placed.values()}


def problems_cluster(*, project, now: dt.datetime | None = None, batch_size: int = BATCH_SIZE) -> dict:
    """One incremental run for ``project``; returns what it did (``skipped`` if another run holds
    the project's lock). Safe to run twice and concurrently."""
    now = now or timezone.now()
    summary: Counter = Counter()
    while True:
        with transaction.atomic():
            if not _try_lock(project):
                return {"skipped": 1}
            state, _ = ClusteringState.objects.for_project(project).get_or_create(project=project)
            turn_ids, marks, more = selectors.clustering_changes_get(
                project=project, state=state, limit=batch_size, cutoff=now - LAG
            )
            summary["examined"] += len(turn_ids)
            dirty = _place(project=project, turn_ids=turn_ids, now=now, summary=summary) if turn_ids else set()
            if dirty:
                Problem.objects.for_project(project).filter(pk__in=list(dirty)).update(needs_cause=True)
            problem_stats_refresh(project=project, now=now)
            summary["causes"] += problem_causes_refresh(project=project, now=now)
            state.signal_watermark, state.decision_watermark, state.pass_watermark = (
                marks["signal"], marks["decision"], marks["pass"]
            )
            state.last_run_at = now
            state.last_run = dict(summary)
            state.save()
        if not more:
            return dict(summary)
