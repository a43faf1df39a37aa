"""CI gate: ``python -m agentloop.gate --validation ID`` prints the report and exits 0 only if the
verdict is ``ship`` (1 otherwise, 2 when the server cannot be asked). It waits while the job is
pending (``--timeout`` seconds). Reads ``AGENTLOOP_API_KEY`` and ``AGENTLOOP_HOST`` like the client."""

from __future__ import annotations

import argparse
import sys
import time

from agentloop.errors import AgentLoopError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agentloop.gate", description=__doc__)
    parser.add_argument("--validation", type=int, required=True, help="The validation id")
    parser.add_argument("--timeout", type=float, default=600.0, help="Seconds to wait for a pending job")
    parser.add_argument("--host", default=None)
    parser.add_argument("--api-key", default=None)
    args = parser.parse_args(argv)
    from agentloop import AgentLoop
    from agentloop.validations import render, validation

    kwargs = {k: v for k, v in (("host", args.host), ("api_key", args.api_key)) if v}
    client = AgentLoop(**kwargs)
    try:
        deadline = time.monotonic() + args.timeout
        report = validation(client, args.validation)
        while report["status"] in ("pending",) or (report["status"] == "running" and report["verdict"] != "running"):
            if time.monotonic() >= deadline:
                break
            time.sleep(2)
            report = validation(client, args.validation)
    except AgentLoopError as error:
        print(f"agentloop.gate: {error}", file=sys.stderr)
        return 2
    finally:
        client.shutdown(timeout=1)
    print(render(report))
    return 0 if report["verdict"] == "ship" else 1


if __name__ == "__main__":
    sys.exit(main())
