"""Validation speed: an offline validation over 10,000 paired cases with 3 scorers (bootstrap
included) and an online validation over 1,000,000 live turns with 1 target and 3 guardrails,
each timed end to end through ``validation_run`` (the worker's code path); target < 30 s each.

    .venv/bin/python bench/validation.py                 # embedded PostgreSQL in a temp folder
    DATABASE_URL=postgresql://… .venv/bin/python bench/validation.py [--cases 10000] [--turns 1000000]

Setup writes the turns with ``INSERT … SELECT`` (copies of a template row with new ids, two
variants, signals at known rates), so only the validation itself is timed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _setup() -> None:
    if not os.environ.get("DATABASE_URL"):
        os.environ.setdefault("AGENTLOOP_DATA_DIR", tempfile.mkdtemp(prefix="agentloop-bench-validation-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("DJANGO_DEBUG", "false")
    import django

    django.setup()


def _copy_sql(model, replace: dict[str, str]) -> tuple[str, str]:
    columns = [f.column for f in model._meta.concrete_fields]
    return ", ".join(columns), ", ".join(replace.get(c, f"x.{c}") for c in columns)


def _turns(project, total: int) -> None:
    from django.db import connection

    from apps.traces.models import Signal, Turn

    template = Turn.objects.create(project=project, id=uuid.uuid4(), variant="T", input="q", output="a")
    signal = Signal.objects.create(project=project, turn_id=template.id, kind="thumbs_down", value=True)
    columns, values = _copy_sql(Turn, {"id": "gen_random_uuid()", "variant": "CASE WHEN g %% 2 = 0 THEN 'A' ELSE 'B' END",
                                       "created_at": "now() - (g || ' seconds')::interval"})
    rates = {"thumbs_down": (0.10, 0.09), "escalation": (0.05, 0.05), "agent_punted": (0.04, 0.04), "rephrase": (0.08, 0.08)}
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO traces_turn ({columns}) SELECT {values} FROM traces_turn x, generate_series(1, %s) g "
                       "WHERE x.id = %s", [total, template.id])
        s_columns, s_values = _copy_sql(Signal, {"id": "gen_random_uuid()" if Signal._meta.pk.get_internal_type() == "UUIDField" else "DEFAULT",
                                                 "turn_id": "t.id", "kind": "%(kind)s"})
        for kind, (rate_a, rate_b) in rates.items():
            cols = [c for c in s_columns.split(", ") if not (c == "id" and "DEFAULT" in s_values)]
            vals = [v for v in s_values.split(", ") if v != "DEFAULT"]
            cursor.execute(
                f"INSERT INTO traces_signal ({', '.join(cols)}) SELECT {', '.join(vals)} FROM traces_signal x, traces_turn t "
                "WHERE x.id = %(signal)s AND t.project_id = %(project)s AND t.variant IN ('A', 'B') "
                "AND random() < CASE WHEN t.variant = 'A' THEN %(a)s ELSE %(b)s END",
                {"kind": kind, "signal": signal.id, "project": project.pk, "a": rate_a, "b": rate_b})
        cursor.execute("ANALYZE traces_turn; ANALYZE traces_signal")


def _experiments(project, cases: int):
    import random

    from apps.experiments.models import Experiment, ExperimentResult
    from apps.datasets.models import Dataset

    dataset = Dataset.objects.create(project=project, name="Bench")
    rng = random.Random(7)
    ids = [uuid.uuid4() for _ in range(cases)]
    made = []
    for name, p_exact, p_contains, mean in (("baseline", 0.70, 0.80, 0.60), ("candidate", 0.74, 0.80, 0.62)):
        experiment = Experiment.objects.create(project=project, name=name, dataset=dataset, dataset_version=1, status="done")
        ExperimentResult.objects.bulk_create([
            ExperimentResult(project=project, experiment=experiment, case_id=case, output="o",
                             scores={"exact": rng.random() < p_exact, "contains": rng.random() < p_contains,
                                     "similarity": min(1.0, max(0.0, rng.gauss(mean, 0.1)))})
            for case in ids], batch_size=5000)
        made.append(experiment)
    return made


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=1_000_000)
    args = parser.parse_args()
    _setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from apps.core.audit import SYSTEM
    from apps.experiments.services.validations import validation_request, validation_run
    from apps.organizations.services import organization_create
    from apps.projects.services import project_create

    user = get_user_model().objects.create_user(email=f"bench-{uuid.uuid4().hex[:6]}@example.test", password="bench-pass-123")
    organization = organization_create(name="Bench validation", owner=user, actor=SYSTEM)
    project = project_create(organization=organization, name="bench", actor=SYSTEM)

    started = time.perf_counter()
    baseline, candidate = _experiments(project, args.cases)
    print(f"setup: 2 experiments × {args.cases:,} scored cases in {time.perf_counter() - started:.1f} s")
    validation, _ = validation_request(project=project, body={"kind": "offline", "baseline": baseline.pk, "candidate": candidate.pk,
                                                              "metrics": ["exact", "contains", "similarity"]})
    started = time.perf_counter()
    validation = validation_run(validation=validation)
    offline_s = time.perf_counter() - started
    print(f"1. offline validation, {args.cases:,} paired cases, 3 scorers (bootstrap 10,000 resamples each): "
          f"{offline_s:.2f} s → {validation.verdict} (target < 30 s)")

    started = time.perf_counter()
    _turns(project, args.turns)
    print(f"setup: {args.turns:,} turns in two variants with 4 signal kinds in {time.perf_counter() - started:.1f} s")
    validation, _ = validation_request(project=project, body={
        "kind": "online", "baseline": {"variant": "A"}, "candidate": {"variant": "B"},
        "target": {"signal": "thumbs_down", "direction": "decrease"},
        "guardrails": [{"signal": s, "direction": "decrease", "tolerance": 0.01} for s in ("escalation", "agent_punted", "rephrase")]})
    started = time.perf_counter()
    validation = validation_run(validation=validation)
    online_s = time.perf_counter() - started
    print(f"2. online validation, {args.turns:,} turns, 1 target + 3 guardrails: {online_s:.2f} s → {validation.verdict} "
          f"(n = {validation.report['counts']['A']['turns']:,} / {validation.report['counts']['B']['turns']:,}; target < 30 s)")


if __name__ == "__main__":
    main()
