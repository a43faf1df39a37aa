"""Ingestion throughput and latency against a live AgentLoop, with baselines from the same run.

    .venv/bin/python bench/ingest.py [--turns 20000] [--batch 500] [--clients 2] [--otlp-traces 2000]

Starts its own server (embedded PostgreSQL/Redis in a temporary folder unless DATABASE_URL and
REDIS_URL are set, gunicorn on loopback), then measures, verifying every persisted count:
  1. raw PostgreSQL COPY of the same turn rows into a table shaped like traces_turn (baseline)
  2. batch ingestion over HTTP (POST /api/v1/ingest, gzip) from concurrent clients
  3. the Python SDK (log_turn + flush)
  4. OTLP/HTTP protobuf through the official OpenTelemetry SDK exporter
  5. p50/p99 latency of single POST /api/v1/turns at a fixed request rate
and prints figures with ratios. Targets (issue "Capture"): batch >= 40% of COPY, OTLP >= 20x
Phoenix's persisted spans/s (peer-bench: ~180 spans/s on this machine kind), p99 < 25 ms at 50 req/s.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import io
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from _server import ROOT, Server, connect

PHOENIX_SPANS_PER_SECOND = 180.0  # ../shared/peer-bench/README.md, same machine kind, medians of 3


def make_turn(index: int) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "question": f"How do I change the billing address on invoice {index}? " + "I tried the settings page. " * 8,
        "agent_response": "To change the billing address, open Billing → Details and edit the address. " * 8,
        "user_id": f"user-{index % 5000}",
        "session_id": f"session-{index // 4}",
        "signals": {"thumbs_down": index % 7 == 0},
        "history": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "Hi! How can I help?"}],
        "prompt_version": "support-v12",
        "model": "gpt-4o-mini",
        "retrieved": [{"id": f"kb-{index % 300}", "score": 0.71, "text": "Billing addresses can be changed… " * 4}],
        "tool_calls": [{"name": "lookup_invoice", "arguments": {"n": index}, "result": {"status": "open"}}],
        "metadata": {"plan": "pro", "region": "eu"},
        "variant": "A" if index % 2 else "B",
    }


def count_turns(conn, project_id: str) -> int:
    return conn.execute("SELECT count(*) FROM traces_turn WHERE project_id = %s", [project_id]).fetchone()[0]


def count_spans(conn, project_id: str) -> int:
    turns = conn.execute("SELECT count(*) FROM traces_turn WHERE project_id = %s AND source = 'otlp'", [project_id]).fetchone()[0]
    steps = conn.execute("SELECT count(*) FROM traces_step WHERE project_id = %s", [project_id]).fetchone()[0]
    return turns + steps


def bench_copy(conn, turns: list[dict], project_id: str) -> float:
    conn.execute("DROP TABLE IF EXISTS bench_copy_turn")
    conn.execute("CREATE TABLE bench_copy_turn (LIKE traces_turn INCLUDING ALL)")
    buffer = io.StringIO()
    started = time.perf_counter()
    with conn.cursor() as cursor:
        with cursor.copy(
            "COPY bench_copy_turn (id, project_id, session_id, end_user_id, input, output, history, prompt_version,"
            " model, retrieved, tool_calls, metadata, variant, source, created_at, received_at, review_state) FROM STDIN"
        ) as copy:
            for t in turns:
                copy.write_row((
                    t["id"], project_id, t["session_id"], t["user_id"], t["question"], t["agent_response"],
                    json.dumps(t["history"]), t["prompt_version"], t["model"], json.dumps(t["retrieved"]),
                    json.dumps(t["tool_calls"]), json.dumps(t["metadata"]), t["variant"], "sdk", "now", "now", "unreviewed",
                ))
    elapsed = time.perf_counter() - started
    copied = conn.execute("SELECT count(*) FROM bench_copy_turn").fetchone()[0]
    conn.execute("DROP TABLE bench_copy_turn")
    assert copied == len(turns), (copied, len(turns))
    del buffer
    return len(turns) / elapsed


def bench_http_batches(server: Server, conn, turns: list[dict], batch: int, clients: int) -> float:
    before = count_turns(conn, server.project_id)
    chunks = [turns[i:i + batch] for i in range(0, len(turns), batch)]
    bodies = [gzip.compress(json.dumps({"batch": [{"type": "turn", "id": t["id"], "body": t} for t in chunk]}).encode(), 1)
              for chunk in chunks]
    errors: list = []

    def worker(mine):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        for body in mine:
            connection.request("POST", "/api/v1/ingest", body=body, headers={
                "Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json", "Content-Encoding": "gzip"})
            response = connection.getresponse()
            payload = response.read()
            if response.status != 207 or json.loads(payload)["rejected"]:
                errors.append((response.status, payload[:300]))

    threads = [threading.Thread(target=worker, args=(bodies[i::clients],)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    assert not errors, errors[:3]
    stored = count_turns(conn, server.project_id) - before
    assert stored == len(turns), (stored, len(turns))
    return len(turns) / elapsed


def bench_sdk(server: Server, conn, turns: list[dict]) -> tuple[float, dict]:
    from agentloop import AgentLoop

    before = count_turns(conn, server.project_id)
    loop = AgentLoop(api_key=server.api_key, host=server.url, project_id=server.project_id, max_queue=len(turns) + 10)
    started = time.perf_counter()
    for t in turns:
        body = dict(t)
        loop.log_turn(**body)
    loop.flush(timeout=300)
    elapsed = time.perf_counter() - started
    stats = dict(loop.stats)
    loop.shutdown()
    stored = count_turns(conn, server.project_id) - before
    assert stored == len(turns), (stored, len(turns), stats)
    return len(turns) / elapsed, stats


def bench_otlp(server: Server, conn, traces: int, children: int = 4) -> float:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    before = count_spans(conn, server.project_id)
    exporter = OTLPSpanExporter(endpoint=f"{server.url}/api/v1/otlp/v1/traces",
                                headers={"authorization": f"Bearer {server.api_key}"}, timeout=60)
    provider = TracerProvider(resource=Resource.create({"service.name": "bench-agent"}))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=traces * (children + 1) + 10,
                                                   max_export_batch_size=512, schedule_delay_millis=200))
    tracer = provider.get_tracer("bench")
    text = "x" * 1024
    started = time.perf_counter()
    for index in range(traces):
        with tracer.start_as_current_span("agent", attributes={"openinference.span.kind": "AGENT", "input.value": text,
                                                                "output.value": text, "session.id": f"s-{index}", "user.id": "u"}):
            for child in range(children):
                kind = ["LLM", "TOOL", "RETRIEVER", "LLM"][child % 4]
                with tracer.start_as_current_span(f"step-{child}", attributes={
                        "openinference.span.kind": kind, "input.value": text, "output.value": text,
                        "llm.model_name": "gpt-4o-mini"}):
                    pass
    provider.force_flush(timeout_millis=300_000)
    elapsed = time.perf_counter() - started
    provider.shutdown()
    expected = traces * (children + 1)
    stored = count_spans(conn, server.project_id) - before
    assert stored == expected, (stored, expected)
    return expected / elapsed


PEER_BENCH = ROOT.parent / "shared" / "peer-bench" / "otlp_bench.py"


def bench_otlp_peer_workload(server: Server, traces: int) -> dict:
    """The exact load generator Phoenix was measured with (../shared/peer-bench/otlp_bench.py):
    official SDK, BatchSpanProcessor -> OTLP/HTTP protobuf, 1 KiB input/output per span."""
    api_key, project_id = server.new_project("peer-otlp")
    count = f"{sys.executable} {ROOT / 'bench' / '_server.py'} count-spans '{server.dsn()}' {project_id}"
    out = Path(tempfile.mkdtemp()) / "peer.json"
    subprocess.run(
        [sys.executable, str(PEER_BENCH), "--endpoint", f"{server.url}/api/v1/otlp/v1/traces",
         "--header", f"authorization=Bearer {api_key}", "--traces", str(traces),
         "--verify", f"cmd:{count}", "--server-pid", str(server.process.pid), "--json-out", str(out)],
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )
    return json.loads(out.read_text())


def post_turn(server: Server, index: int, *, timeout: float) -> tuple[int, float]:
    """One ``POST /api/v1/turns`` of ``make_turn(index)`` on a fresh connection: (status, milliseconds)."""
    body = json.dumps(make_turn(index)).encode()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    started = time.perf_counter()
    connection.request("POST", "/api/v1/turns", body=body,
                       headers={"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    elapsed = (time.perf_counter() - started) * 1000
    connection.close()
    return response.status, elapsed


def bench_latency(server: Server, rps: int, seconds: int) -> dict:
    """Open-loop: requests are scheduled at a fixed rate whatever the previous one took."""
    latencies: list[float] = []
    lock = threading.Lock()
    interval = 1.0 / rps
    total = rps * seconds

    def one(index: int):
        status, elapsed = post_turn(server, index, timeout=30)
        assert status == 201, status
        with lock:
            latencies.append(elapsed)

    threads = []
    origin = time.perf_counter()
    for index in range(total):
        delay = origin + index * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        thread = threading.Thread(target=one, args=(index,))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    latencies.sort()
    return {
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "max_ms": round(latencies[-1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--otlp-traces", type=int, default=2000)
    parser.add_argument("--rps", type=int, default=50)
    parser.add_argument("--latency-seconds", type=int, default=20)
    parser.add_argument("--skip", action="append", default=[], choices=["copy", "http", "sdk", "otlp", "otlp-peer", "latency"])
    args = parser.parse_args()

    server = Server(workers=args.workers)
    conn = connect(server.dsn())
    results: dict = {}
    try:
        turns = [make_turn(i) for i in range(args.turns)]
        if "copy" not in args.skip:
            results["copy_rows_per_s"] = round(bench_copy(conn, [dict(t, id=str(uuid.uuid4())) for t in turns], server.project_id))
        if "http" not in args.skip:
            results["http_batch_turns_per_s"] = round(bench_http_batches(server, conn, turns, args.batch, args.clients))
        if "sdk" not in args.skip:
            rate, stats = bench_sdk(server, conn, [dict(t, id=str(uuid.uuid4())) for t in turns])
            results["sdk_turns_per_s"], results["sdk_stats"] = round(rate), stats
        if "otlp" not in args.skip:
            results["otlp_spans_per_s"] = round(bench_otlp(server, conn, args.otlp_traces))
        if "otlp-peer" not in args.skip and PEER_BENCH.exists():
            peer = bench_otlp_peer_workload(server, args.otlp_traces)
            results["otlp_peer_workload"] = {k: v for k, v in peer.items() if not isinstance(v, (list, dict))}
        if "latency" not in args.skip:
            results["single_turn_latency"] = bench_latency(server, args.rps, args.latency_seconds)
    finally:
        conn.close()
        server.stop()

    copy_rate = results.get("copy_rows_per_s")
    print("\nAgentLoop ingestion benchmark (2-core machine, server + database on the same host)")
    print(json.dumps(results, indent=2))
    if copy_rate and "http_batch_turns_per_s" in results:
        print(f"batch ingestion / raw COPY   = {results['http_batch_turns_per_s'] / copy_rate:.0%}   (target >= 40%)")
    if copy_rate and "sdk_turns_per_s" in results:
        print(f"SDK ingestion / raw COPY     = {results['sdk_turns_per_s'] / copy_rate:.0%}")
    if "otlp_spans_per_s" in results:
        print(f"OTLP spans/s / Phoenix       = {results['otlp_spans_per_s'] / PHOENIX_SPANS_PER_SECOND:.1f}x  "
              f"(target >= 20x; Phoenix figure from ../shared/peer-bench/README.md)")
    if "otlp_peer_workload" in results:
        peer = results["otlp_peer_workload"]
        print(f"peer-bench workload: {peer['persisted_spans_per_s']} persisted spans/s "
              f"= {peer['persisted_spans_per_s'] / PHOENIX_SPANS_PER_SECOND:.1f}x Phoenix (same generator, target >= 20x); "
              f"{peer['persisted_count_final']}/{peer['spans_generated']} stored")
    if "single_turn_latency" in results:
        print(f"single POST /api/v1/turns p99 = {results['single_turn_latency']['p99_ms']} ms at {args.rps} req/s (target < 25 ms)")


if __name__ == "__main__":
    main()
