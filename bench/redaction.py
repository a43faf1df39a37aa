"""What PII redaction at ingestion costs: batch-ingestion throughput with every built-in
recogniser on versus off, on the ingestion benchmark's payload, in the same run.

    .venv/bin/python bench/redaction.py [--turns 10000] [--batch 500] [--clients 2] [--rounds 2]

Starts its own server (bench/_server.py), makes two projects — one with redaction off, one with
every built-in recogniser on (keyed placeholders) — and alternates rounds of
``POST /api/v1/ingest`` (bench/ingest.py's ``make_turn`` payload and HTTP client) between them,
so drift on the machine hits both alike. Prints the best round of each and the ratio, and the
server's CPU time per 1,000 turns off and on (gunicorn and PostgreSQL processes), which other
load on a shared machine does not inflate.
Target (issue 13): redaction costs under 10 % of batch throughput.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from _server import ROOT, Server, connect
from ingest import bench_http_batches, make_turn

SWITCH_ON = (
    "from apps.core.audit import SYSTEM; from apps.core.redaction import KINDS; "
    "from apps.projects.models import Project; from apps.projects.redaction import redaction_settings_save; "
    "redaction_settings_save(project=Project.all_tenants.get(pk='{project}'), kinds=list(KINDS), "  # unscoped: bench setup
    "placeholder_style='keyed', patterns=[], actor=SYSTEM)"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    server = Server()
    conn = connect(server.dsn())
    try:
        off = (server.api_key, server.project_id)
        on = server.new_project("redaction-on")
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "shell", "-c", SWITCH_ON.format(project=on[1])],
                       env=server.env, check=True, cwd=ROOT)
        rates: dict[str, list[float]] = {"off": [], "on": []}
        cpu: dict[str, list[float]] = {"off": [], "on": []}  # server CPU ms per 1,000 turns
        for _ in range(args.rounds):
            for label, (api_key, project_id) in (("off", off), ("on", on)):
                server.api_key, server.project_id = api_key, project_id
                turns = [make_turn(i) for i in range(args.turns)]
                used = server.cpu_seconds()
                rates[label].append(bench_http_batches(server, conn, turns, args.batch, args.clients))
                cpu[label].append((server.cpu_seconds() - used) * 1e6 / args.turns)
        redacted = conn.execute("SELECT count(*) FROM traces_turn WHERE project_id = %s AND redactions <> '{}'::jsonb",
                                [on[1]]).fetchone()[0]
        best_off, best_on = max(rates["off"]), max(rates["on"])
        print(f"batch ingestion, redaction off: {best_off:,.0f} turns/s (rounds: {', '.join(f'{r:,.0f}' for r in rates['off'])})")
        print(f"batch ingestion, every built-in recogniser on: {best_on:,.0f} turns/s "
              f"(rounds: {', '.join(f'{r:,.0f}' for r in rates['on'])}; turns with a redaction: {redacted})")
        cost = 1 - best_on / best_off
        print(f"on/off = {best_on / best_off:.3f}: redaction costs {cost:.1%} of throughput (target < 10%)")
        cpu_off, cpu_on = min(cpu["off"]), min(cpu["on"])
        print(f"server CPU per 1,000 turns (gunicorn + PostgreSQL; not inflated by other load): off {cpu_off:,.0f} ms, "
              f"on {cpu_on:,.0f} ms (rounds: {', '.join(f'{c:,.0f}' for c in cpu['off'])} / "
              f"{', '.join(f'{c:,.0f}' for c in cpu['on'])}): redaction costs {1 - cpu_off / cpu_on:.1%} of the "
              f"server's CPU per turn, {cpu_on / cpu_off - 1:.1%} more than off (target < 10%)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
