#!/usr/bin/env node
// Live check of the JS SDK's experiment calls (run by tests/sdk/test_experiments_sdk_live.py):
//
//     AGENTLOOP_HOST=… AGENTLOOP_API_KEY=al_sk_… node sdk/js/test/experiments-live.mjs
//
// Runs a task over "Refund failures" v1 that is interrupted after 7 cases, resumes it with the
// experiment id, and prints one line of JSON with the calls made and the summary.

if (process.env.NODE_TEST_CONTEXT) {
  const { test } = await import("node:test");
  test("experiments-live.mjs runs only against a live server", { skip: true }, () => {});
} else {
  const { AgentLoop } = await import("../index.js");
  const loop = new AgentLoop({ flushInterval: 50 });
  const calls = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const task = async (c) => {
    calls.push(c.id);
    const count = calls.length;
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((resolve) => setTimeout(resolve, 5));
    inFlight -= 1;
    if (count === 7) throw Object.assign(new Error("stop"), { interrupt: true });
    const n = Number(c.input.slice(1));
    return { output: n % 3 ? `a${n}` : "wrong", scores: { judge: 1 } };
  };
  const scorers = [{ name: "exact", kind: "exact_match" }, { name: "judge", kind: "posted" }];
  let experimentId = null;
  try {
    await loop.runExperiment("Refund failures", { version: 1, task, scorers, concurrency: 3, batchSize: 2, progress: false });
  } catch (error) {
    experimentId = error.experimentId;
  }
  const firstCalls = calls.length;
  const done = await loop.runExperiment("Refund failures", { version: 1, task, scorers, experimentId, concurrency: 3, progress: false });
  const again = await loop.experiment(experimentId);
  let missing = null;
  try {
    await loop.experiment(1e12);
  } catch (error) {
    missing = [error.code, error.status];
  }
  await loop.shutdown();
  console.log(JSON.stringify({ experimentId, firstCalls, secondCalls: calls.length - firstCalls, maxInFlight,
    status: done.status, resultsCount: done.results_count, summary: done.summary, same: JSON.stringify(again.summary) === JSON.stringify(done.summary), missing }));
}
