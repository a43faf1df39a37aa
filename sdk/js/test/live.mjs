#!/usr/bin/env node
// Live check of the JS SDK against a running AgentLoop server (run by the Python test suite):
//
//     AGENTLOOP_HOST=http://localhost:8000 AGENTLOOP_API_KEY=al_sk_… node sdk/js/test/live.mjs
//
// Optional: AGENTLOOP_PROJECT_ID (otherwise the SDK asks GET /api/v1/auth/check).
//
// It logs 3 turns through the SDK, each with signals, and 1 feedback on the first turn, flushes,
// and prints one line of JSON to stdout:
//
//     {"turn_ids": ["<uuid>", "<uuid>", "<uuid>"], "feedback_url": "<host>/f/<payload>.<signature>"}
//
// What it sends, for the caller to assert on (i = 0, 1, 2):
//   turn i:     question "live question {i}", agent_response "live answer {i}",
//               user_id "live-user", session_id "live-session-<run id>", model "live-model",
//               prompt_version "live-v1", metadata {"live": true, "index": i},
//               signals: turn 0 {"thumbs_down": true}, turn 1 {"escalation": true},
//               turn 2 {"thumbs_up": true, "rating": 4};
//               turn 0 also has one step {kind "llm", name "live-llm-call"}
//   feedback:   on turn 0: rating "down", comment "live feedback comment",
//               correction "live correction", user_id "live-user"
//   feedback_url: the signed URL of turn 0 for user "live-user"
//
// Exit status 0 only when all 4 items were committed (2xx) and a feedback URL was made; otherwise
// it prints the SDK's errors to stderr and exits 1. Under `node --test` (which runs every file in
// test/) it only registers a skipped test.

import { randomUUID } from "node:crypto";

if (process.env.NODE_TEST_CONTEXT) {
  const { test } = await import("node:test");
  test("live.mjs runs against a live server from the Python test suite", { skip: "needs AGENTLOOP_HOST and AGENTLOOP_API_KEY; run it directly" }, () => {});
} else {
  await main();
}

async function main() {
  const { AgentLoop } = await import("../index.js");
  const host = process.env.AGENTLOOP_HOST;
  const apiKey = process.env.AGENTLOOP_API_KEY;
  if (!host || !apiKey) {
    process.stderr.write("live.mjs: set AGENTLOOP_HOST and AGENTLOOP_API_KEY\n");
    process.exit(2);
  }

  /** @type {string[]} */
  const errors = [];
  const loop = new AgentLoop({
    apiKey,
    host,
    projectId: process.env.AGENTLOOP_PROJECT_ID || undefined,
    maxRetries: 3,
    onError: (error) => errors.push(`${error.code}${error.status ? ` (HTTP ${error.status})` : ""}: ${error.message}`),
  });

  const session = `live-session-${randomUUID()}`;
  const signals = [{ thumbs_down: true }, { escalation: true }, { thumbs_up: true, rating: 4 }];
  const started = new Date();
  const turns = signals.map((turnSignals, index) =>
    loop.logTurn({
      question: `live question ${index}`,
      agentResponse: `live answer ${index}`,
      userId: "live-user",
      sessionId: session,
      signals: turnSignals,
      model: "live-model",
      promptVersion: "live-v1",
      metadata: { live: true, index },
      steps: index === 0
        ? [{ kind: "llm", name: "live-llm-call", startedAt: started, endedAt: new Date(), input: { prompt: "live question 0" }, output: "live answer 0" }]
        : undefined,
    }),
  );
  loop.feedback(turns[0].id, { rating: "down", comment: "live feedback comment", correction: "live correction", userId: "live-user" });

  const feedbackUrl = await turns[0].feedbackUrl();
  await loop.shutdown();

  const stats = loop.stats;
  const ok = stats.sent === 4 && stats.failed === 0 && stats.dropped === 0 && feedbackUrl !== null;
  if (!ok) {
    process.stderr.write(`live.mjs: stats ${JSON.stringify(stats)}, feedback_url ${feedbackUrl}\n`);
    for (const error of errors) process.stderr.write(`live.mjs: ${error}\n`);
    process.exit(1);
  }
  process.stdout.write(JSON.stringify({ turn_ids: turns.map((turn) => turn.id), feedback_url: feedbackUrl }) + "\n");
}
