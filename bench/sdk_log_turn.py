"""Cost of one ``AgentLoop.log_turn`` on the caller's thread (Python SDK, sdk/python).

    .venv/bin/python bench/sdk_log_turn.py [--calls 50000]

A local HTTP server thread answers every ingest with 207, so the SDK's sender thread really
batches, gzips and posts while the caller logs (its GIL share shows up in the caller's
timings, as it would in an app). The baseline, in the same run, builds the same turn dict and a
uuid4: what the app would pay anyway to hand a turn to anything. Target: mean under 50 µs.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

try:
    from agentloop import AgentLoop
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sdk" / "python" / "src"))
    from agentloop import AgentLoop

API_KEY = "al_sk_a1b2c3d4e5f6_bench-secret_value"
PROJECT_ID = "2b1f1c54-3f0e-4c8e-9a51-8d9a4c6b2e10"
QUESTION = (
    "Where is my refund for order 1234? I was told it would arrive within five business days."
)
ANSWER = (
    "Your refund for order 1234 was issued on Monday to the card ending in 4242. Banks usually "
    "take three to five business days to show it; if it is not there by Friday, reply here and "
    "I will open a ticket with our payments team so they can trace it for you. "
) * 2
HISTORY = [
    {"role": "user" if i % 2 == 0 else "assistant", "content": ANSWER[:300]} for i in range(10)
]
RETRIEVED = [{"id": f"doc-{i}", "score": 0.9 - i / 10, "text": ANSWER} for i in range(4)]


class Ingest(BaseHTTPRequestHandler):
    """Reads the body and answers 207 with no per-item results (the SDK counts them sent)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"accepted":0,"rejected":0,"results":[]}'
        self.send_response(207)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def summarize(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    return {
        "mean": statistics.fmean(ordered) / 1000,
        "p50": ordered[len(ordered) // 2] / 1000,
        "p99": ordered[int(len(ordered) * 0.99)] / 1000,
        "max": ordered[-1] / 1000,
    }


def timed(call, count: int) -> list[int]:
    clock = time.perf_counter_ns
    samples = []
    for index in range(count):
        started = clock()
        call(index)
        samples.append(clock() - started)
    return samples


def typical_kwargs(index: int) -> dict:
    return {
        "question": QUESTION,
        "agent_response": ANSWER,
        "user_id": f"user-{index % 500}",
        "session_id": f"s-{index % 2000}",
        "signals": {"thumbs_down": index % 7 == 0},
        "model": "gpt-4o-mini",
        "prompt_version": "support-v12",
        "metadata": {"plan": "pro", "region": "eu"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50_000)
    args = parser.parse_args()
    calls = args.calls

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    host = f"http://127.0.0.1:{httpd.server_address[1]}"
    loop = AgentLoop(
        api_key=API_KEY, host=host, project_id=PROJECT_ID, max_queue=calls * 3 + 10_000
    )

    def baseline(index: int) -> None:
        turn_id = str(uuid.uuid4())
        body = {"id": turn_id, **typical_kwargs(index)}
        body["timestamp"] = None

    def sdk(index: int) -> None:
        loop.log_turn(**typical_kwargs(index))

    def sdk_large(index: int) -> None:
        loop.log_turn(history=HISTORY, retrieved=RETRIEVED, **typical_kwargs(index))

    # The same client with its sender thread stopped: the caller's own work, without competing
    # for the GIL with a thread that encodes, gzips and posts.
    quiet = AgentLoop(api_key=API_KEY, host=host, project_id=PROJECT_ID, max_queue=calls + 10_000)
    quiet._sender.abort.set()
    quiet._sender.wake.set()
    quiet._sender.thread.join()

    def sdk_quiet(index: int) -> None:
        quiet.log_turn(**typical_kwargs(index))

    turns = [loop.log_turn(**typical_kwargs(i)) for i in range(2_000)]  # warm-up
    baseline_ns = timed(baseline, 2_000)
    loop.flush()

    gc.collect()
    baseline_ns = timed(baseline, calls)
    sdk_ns = timed(sdk, calls)
    quiet_ns = timed(sdk_quiet, calls)
    large_ns = timed(sdk_large, calls // 5)
    url_ns = timed(lambda i: turns[i].feedback_url, len(turns))
    feedback_ns = timed(
        lambda i: loop.feedback(turns[i % len(turns)].id, rating="down"), calls // 5
    )
    signal_ns = timed(lambda i: loop.signal(turns[i % len(turns)].id, "escalation"), calls // 5)

    drain_started = time.perf_counter()
    drained = loop.flush(timeout=120)
    drain_seconds = time.perf_counter() - drain_started
    stats = loop.stats
    loop.shutdown()
    logging.getLogger("agentloop").setLevel(logging.ERROR)  # the stopped client drops its queue
    quiet.shutdown(timeout=0)
    httpd.shutdown()

    base = summarize(baseline_ns)
    rows = [
        ("baseline: dict + uuid4", calls, base),
        ("log_turn (typical)", calls, summarize(sdk_ns)),
        ("log_turn (typical, sender stopped)", calls, summarize(quiet_ns)),
        ("log_turn (10-message history, 4 docs)", calls // 5, summarize(large_ns)),
        ("turn.feedback_url (first read)", len(turns), summarize(url_ns)),
        ("feedback()", calls // 5, summarize(feedback_ns)),
        ("signal()", calls // 5, summarize(signal_ns)),
    ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {load:.1f}; "
        "agentloop SDK, caller-thread cost per call (µs)"
    )
    print(f"{'':40} {'calls':>7} {'mean':>8} {'p50':>8} {'p99':>8} {'max':>9} {'× base':>7}")
    for name, count, figures in rows:
        ratio = figures["mean"] / base["mean"]
        print(
            f"{name:40} {count:>7} {figures['mean']:8.2f} {figures['p50']:8.2f} "
            f"{figures['p99']:8.2f} {figures['max']:9.1f} {ratio:7.1f}"
        )
    typical = summarize(sdk_ns)
    verdict = "OK" if typical["mean"] < 50 else "OVER"
    print(f"\ntarget: log_turn mean < 50 µs → {typical['mean']:.1f} µs ({verdict})")
    print(f"delivery: drained={drained} in {drain_seconds:.2f}s after the loops; stats={stats}")


if __name__ == "__main__":
    main()
