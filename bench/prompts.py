"""Prompt fetch latency against a live AgentLoop, and the SDKs' cache-hit cost, with baselines from the same run.

    .venv/bin/python bench/prompts.py [--rps 50] [--seconds 20] [--hits 1000000]

Starts its own server (embedded PostgreSQL/Redis in a temporary folder unless DATABASE_URL and
REDIS_URL are set, gunicorn on loopback), creates prompt ``support-agent`` (3 versions, production
on v2) through the key API, then measures at a fixed request rate (open loop, one connection per
request, like bench/ingest.py):
  1. GET /healthz (baseline: the web tier without the database)
  2. a raw PostgreSQL round trip (SELECT 1 on an open connection)
  3. GET /api/v1/prompts/support-agent?label=production (200 with the body)
  4. the same with If-None-Match (304)
  5. the Python SDK's loop.prompt() cache hit, in µs on the caller's thread (and the JS SDK's, if node is installed)
Targets (issue "Speed"): p99 of 3. under 10 ms at 50 req/s; an SDK cache hit under 5 µs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import subprocess
import threading
import time

from _server import ROOT, Server, connect


def _summary(latencies: list[float]) -> dict:
    latencies = sorted(latencies)
    return {
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(latencies[max(int(len(latencies) * 0.99) - 1, 0)], 3),
        "max_ms": round(latencies[-1], 3),
    }


def open_loop(server: Server, path: str, *, rps: int, seconds: int, headers: dict | None = None, status: int = 200) -> dict:
    latencies: list[float] = []
    lock = threading.Lock()
    interval = 1.0 / rps

    def one() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        started = time.perf_counter()
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status == status, (path, response.status)
        with lock:
            latencies.append(elapsed)
        connection.close()

    threads = []
    origin = time.perf_counter()
    for index in range(rps * seconds):
        delay = origin + index * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        thread = threading.Thread(target=one)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return _summary(latencies)


def postgres_round_trip(dsn: str, *, rps: int, seconds: int) -> dict:
    latencies = []
    with connect(dsn) as conn:
        interval, origin = 1.0 / rps, time.perf_counter()
        for index in range(rps * seconds):
            delay = origin + index * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            started = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            latencies.append((time.perf_counter() - started) * 1000)
    return _summary(latencies)


def _call(server: Server, method: str, path: str, body: dict) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request(method, path, body=json.dumps(body).encode(),
                       headers={"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"})
    response = connection.getresponse()
    payload = json.loads(response.read() or b"{}")
    assert response.status < 300, (path, response.status, payload)
    return payload


def seed(server: Server) -> None:
    tool = {"type": "function", "function": {"name": "track_order", "description": "Order status",
            "parameters": {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]}}}
    for number in (1, 2, 3):
        _call(server, "POST", "/api/v1/prompts/support-agent/versions", {
            "template": f"v{number}: You are Acme's support agent. " * 20 + "Question: {{question}}", "tools": [tool],
            "settings": {"model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 500}, "message": f"v{number}",
        })
    _call(server, "PUT", "/api/v1/prompts/support-agent/labels/production", {"version": 2})


def python_cache_hit(server: Server, hits: int) -> dict:
    from agentloop import AgentLoop

    loop = AgentLoop(api_key=server.api_key, host=server.url, project_id=server.project_id)
    loop.prompt_ttl = 3600.0
    prompt = loop.prompt("support-agent", label="production")
    assert prompt.version == 2
    started = time.perf_counter()
    for _ in range(hits):
        loop.prompt("support-agent", label="production")
    mean_us = (time.perf_counter() - started) / hits * 1e6
    batches = []
    for _ in range(2000):  # p99 over batches of 100 calls (a single call is below the clock's resolution)
        started = time.perf_counter_ns()
        for _ in range(100):
            loop.prompt("support-agent", label="production")
        batches.append((time.perf_counter_ns() - started) / 100 / 1000)
    batches.sort()
    loop.shutdown(timeout=1)
    return {"hits": hits, "mean_us": round(mean_us, 3), "p99_of_100_call_batches_us": round(batches[int(len(batches) * 0.99)], 3)}


JS_HIT = """
import { AgentLoop } from "%s/sdk/js/index.js";
const loop = new AgentLoop({ apiKey: process.env.KEY, host: process.env.HOST, promptTtl: 3600000 });
const prompt = await loop.prompt("support-agent", { label: "production" });
if (prompt.version !== 2) throw new Error("wrong version");
const hits = Number(process.env.HITS);
let started = process.hrtime.bigint();
for (let i = 0; i < hits; i++) await loop.prompt("support-agent", { label: "production" });
const meanUs = Number(process.hrtime.bigint() - started) / hits / 1000;
console.log(JSON.stringify({ hits, mean_us: Math.round(meanUs * 1000) / 1000 }));
await loop.shutdown(100);
"""


def js_cache_hit(server: Server, hits: int) -> dict | None:
    node = shutil.which("node")
    if node is None:
        return None
    out = subprocess.run([node, "--input-type=module", "-e", JS_HIT % ROOT], capture_output=True, text=True, check=True,
                         env={"KEY": server.api_key, "HOST": server.url, "HITS": str(hits), "PATH": "/usr/bin:/bin"}).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rps", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--hits", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    server = Server(workers=args.workers)
    results: dict = {}
    try:
        seed(server)
        auth = {"Authorization": f"Bearer {server.api_key}"}
        path = "/api/v1/prompts/support-agent?label=production"
        open_loop(server, path, rps=args.rps, seconds=2, headers=auth)  # warm the workers and the cache
        results["healthz"] = open_loop(server, "/healthz", rps=args.rps, seconds=args.seconds)
        results["postgres_select_1"] = postgres_round_trip(server.dsn(), rps=args.rps, seconds=args.seconds)
        results["prompt_fetch_200"] = open_loop(server, path, rps=args.rps, seconds=args.seconds, headers=auth)
        etag = http.client.HTTPConnection("127.0.0.1", server.port)
        etag.request("GET", path, headers=auth)
        tag = etag.getresponse().getheader("ETag")
        results["prompt_fetch_304"] = open_loop(server, path, rps=args.rps, seconds=args.seconds,
                                                headers={**auth, "If-None-Match": tag}, status=304)
        results["python_sdk_cache_hit"] = python_cache_hit(server, args.hits)
        js = js_cache_hit(server, args.hits)
        if js:
            results["js_sdk_cache_hit"] = js
    finally:
        server.stop()

    print("\nAgentLoop prompt fetch benchmark (2-core machine, server + database on the same host)")
    print(json.dumps(results, indent=2))
    fetch, health = results["prompt_fetch_200"], results["healthz"]
    print(f"GET /api/v1/prompts/{{name}}?label= p99 = {fetch['p99_ms']} ms at {args.rps} req/s (target < 10 ms); "
          f"{fetch['p99_ms'] / health['p99_ms']:.1f}x /healthz p99, p50 {fetch['p50_ms'] / health['p50_ms']:.1f}x /healthz p50")
    print(f"304 revalidation p99 = {results['prompt_fetch_304']['p99_ms']} ms; raw PostgreSQL SELECT 1 p99 = "
          f"{results['postgres_select_1']['p99_ms']} ms")
    print(f"Python SDK cache hit = {results['python_sdk_cache_hit']['mean_us']} µs mean (target < 5 µs)")
    if "js_sdk_cache_hit" in results:
        print(f"JS SDK cache hit (await loop.prompt()) = {results['js_sdk_cache_hit']['mean_us']} µs mean")


if __name__ == "__main__":
    main()
