import { test } from "node:test";
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";

import { AgentLoop, Turn, VERSION } from "../index.js";
import { API_KEY, FAST, UUID_PATTERN, errorSink, ingestServer, sentIds } from "./helpers.js";

test("logTurn returns a Turn with a random UUID, or the given id", () => {
  const loop = new AgentLoop({ apiKey: API_KEY, host: "http://127.0.0.1:9", enabled: false });

  const random = loop.logTurn({ question: "q" });
  const given = loop.logTurn({ id: "7d3e9f4a-1b2c-4d5e-8f90-a1b2c3d4e5f6", userId: "u-1" });

  assert.ok(random instanceof Turn);
  assert.match(random.id, UUID_PATTERN);
  assert.equal(random.userId, "");
  assert.equal(given.id, "7d3e9f4a-1b2c-4d5e-8f90-a1b2c3d4e5f6");
  assert.equal(given.userId, "u-1");
  assert.notEqual(loop.logTurn().id, random.id);
});

test("camelCase arguments become the server's snake_case fields; caller-owned values are untouched", async () => {
  const server = await ingestServer();
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, ...FAST });

  const turn = loop.logTurn({
    id: "00000000-0000-4000-8000-000000000001",
    question: "How do I reset my password?",
    agentResponse: "Click 'Forgot password'.",
    userId: "user-42",
    sessionId: 7,
    signals: { thumbs_down: true, customSignal: 0.3 },
    history: [{ role: "user", content: "hi" }],
    promptVersion: "support-v3",
    model: "gpt-x",
    retrieved: [{ docId: "kb-1", score: 0.9 }],
    toolCalls: [{ toolName: "search", args: { maxResults: 3 } }],
    metadata: { planTier: "pro", nested: { keepMe: null } },
    variant: "B",
    timestamp: new Date("2025-01-02T03:04:05.678Z"),
    steps: [
      {
        id: "s1", kind: "llm", name: "answer", startedAt: Date.UTC(2025, 0, 2, 3, 4, 5), endedAt: "2025-01-02T03:04:05.600Z",
        input: { promptText: "p" }, output: "o", attributes: { tokenCount: 12 },
      },
      { parentId: "s1", kind: "tool", name: "search", error: new Error("search timed out") },
    ],
  });
  await loop.shutdown();

  const [item] = server.requests[0].json.batch;
  const step2 = item.body.steps[1];
  assert.deepEqual(item, {
    type: "turn",
    id: turn.id,
    body: {
      id: turn.id,
      question: "How do I reset my password?",
      agent_response: "Click 'Forgot password'.",
      user_id: "user-42",
      session_id: "7",
      signals: { thumbs_down: true, customSignal: 0.3 },
      history: [{ role: "user", content: "hi" }],
      prompt_version: "support-v3",
      model: "gpt-x",
      retrieved: [{ docId: "kb-1", score: 0.9 }],
      tool_calls: [{ toolName: "search", args: { maxResults: 3 } }],
      metadata: { planTier: "pro", nested: { keepMe: null } },
      variant: "B",
      timestamp: "2025-01-02T03:04:05.678Z",
      steps: [
        {
          id: "s1", kind: "llm", name: "answer", started_at: "2025-01-02T03:04:05.000Z", ended_at: "2025-01-02T03:04:05.600Z",
          input: { promptText: "p" }, output: "o", attributes: { tokenCount: 12 },
        },
        { id: step2.id, parent_id: "s1", kind: "tool", name: "search", error: "search timed out" },
      ],
    },
  });
  assert.match(step2.id, UUID_PATTERN);
  await server.close();
});

test("undefined and null fields are left out; the timestamp defaults to the call time", async () => {
  const server = await ingestServer();
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, ...FAST });
  const before = Date.now();

  const turn = loop.logTurn({ question: "q", agentResponse: undefined, userId: null, metadata: undefined });
  const after = Date.now();
  await loop.shutdown();

  const body = server.requests[0].json.batch[0].body;
  assert.deepEqual(Object.keys(body).sort(), ["id", "question", "timestamp"]);
  assert.equal(body.id, turn.id);
  const stamp = Date.parse(body.timestamp);
  assert.ok(stamp >= before && stamp <= after, body.timestamp);
  assert.match(body.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  await server.close();
});

test("feedback and signal bodies use snake_case and go out after their turn, in order", async () => {
  const server = await ingestServer();
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, ...FAST });

  const turn = loop.logTurn({ question: "q" });
  const feedbackId = loop.feedback(turn.id, { rating: "down", comment: "wrong", correction: "right", signals: { escalation: true }, userId: "u" });
  const givenFeedbackId = loop.feedback(turn.id, { rating: 4, id: "f-given" });
  const queued = loop.signal(turn.id, "rephrase", 2, "session-9");
  loop.signal(turn.id, "thumbs_up");
  await loop.shutdown();

  const batch = server.requests[0].json.batch;
  assert.match(/** @type {string} */ (feedbackId), UUID_PATTERN);
  assert.equal(givenFeedbackId, "f-given");
  assert.equal(queued, true);
  assert.deepEqual(batch.map((/** @type {any} */ item) => item.type), ["turn", "feedback", "feedback", "signal", "signal"]);
  assert.deepEqual(batch[1], {
    type: "feedback",
    id: feedbackId,
    body: { turn_id: turn.id, id: feedbackId, rating: "down", comment: "wrong", correction: "right", signals: { escalation: true }, user_id: "u" },
  });
  assert.deepEqual(batch[2].body, { turn_id: turn.id, id: "f-given", rating: 4 });
  assert.deepEqual(batch[3].body, { turn_id: turn.id, kind: "rephrase", value: 2, dedupe_key: "session-9" });
  assert.deepEqual(batch[4].body, { turn_id: turn.id, kind: "thumbs_up", value: true, dedupe_key: "" });
  assert.match(batch[3].id, UUID_PATTERN);
  await server.close();
});

test("the request is a real gzip body with the contract's headers", async () => {
  const server = await ingestServer();
  const loop = new AgentLoop({ apiKey: API_KEY, host: `${server.url}/`, ...FAST });

  const turn = loop.logTurn({ question: "héllo 用户" });
  await loop.flush();

  const request = server.requests[0];
  assert.equal(request.method, "POST");
  assert.equal(request.path, "/api/v1/ingest");
  assert.equal(request.headers["content-encoding"], "gzip");
  assert.equal(request.headers["content-type"], "application/json");
  assert.equal(request.headers.authorization, `Bearer ${API_KEY}`);
  assert.equal(request.headers["user-agent"], `agentloop-js/${VERSION}`);
  assert.deepEqual([...request.raw.subarray(0, 2)], [0x1f, 0x8b]);
  const decoded = JSON.parse(gunzipSync(request.raw).toString("utf8"));
  assert.equal(decoded.batch[0].id, turn.id);
  assert.equal(decoded.batch[0].body.question, "héllo 用户");
  await loop.shutdown();
  await server.close();
});

test("logTurnIf logs only when the condition is truthy", async () => {
  const server = await ingestServer();
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, ...FAST });

  const skipped = [loop.logTurnIf(false, { question: "a" }), loop.logTurnIf(0, { question: "b" }), loop.logTurnIf("", { question: "c" })];
  const logged = loop.logTurnIf("yes", { question: "d" });
  await loop.shutdown();

  assert.deepEqual(skipped, [null, null, null]);
  assert.ok(logged instanceof Turn);
  assert.deepEqual(sentIds(server.requests), [logged.id]);
  assert.equal(server.requests[0].json.batch[0].body.question, "d");
  await server.close();
});

test("a full queue drops new items and counts them; the kept ones are still delivered", async () => {
  const server = await ingestServer();
  const sink = errorSink();
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, maxQueue: 3, onError: sink.onError, ...FAST });

  const turns = [1, 2, 3, 4, 5].map((n) => loop.logTurn({ question: `q${n}` }));
  const statsWhenFull = loop.stats;
  const signalQueued = loop.signal(turns[0].id, "thumbs_down");
  await loop.flush();

  assert.deepEqual(statsWhenFull, { queued: 3, sent: 0, dropped: 2, retries: 0, failed: 0 });
  assert.equal(signalQueued, false);
  assert.deepEqual(sink.codes(), ["queue_full", "queue_full", "queue_full"]);
  assert.deepEqual(server.committed, turns.slice(0, 3).map((turn) => turn.id));
  assert.deepEqual(loop.stats, { queued: 0, sent: 3, dropped: 3, retries: 0, failed: 0 });
  await loop.shutdown();
  await server.close();
});

test("batches hold at most maxBatch items and keep the logging order", async () => {
  const server = await ingestServer();
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, maxBatch: 2, ...FAST });

  const ids = [1, 2, 3, 4, 5].map(() => loop.logTurn({}).id);
  await loop.flush();

  assert.deepEqual(server.requests.map((request) => request.json.batch.length), [2, 2, 1]);
  assert.deepEqual(server.committed, ids);
  await loop.shutdown();
  await server.close();
});

test("the background timer sends without an explicit flush", async () => {
  const server = await ingestServer();
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, flushInterval: 20 });

  const turn = loop.logTurn({ question: "q" });
  for (let waited = 0; server.committed.length === 0 && waited < 3000; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }

  assert.deepEqual(server.committed, [turn.id]);
  await loop.shutdown();
  await server.close();
});

test("what is sent is a snapshot taken at logTurn time", async () => {
  const server = await ingestServer();
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, ...FAST });
  const metadata = { step: "before" };

  loop.logTurn({ question: "q", metadata });
  metadata.step = "after";
  await loop.shutdown();

  assert.deepEqual(server.requests[0].json.batch[0].body.metadata, { step: "before" });
  await server.close();
});

test("flush and shutdown: flush resolves true when settled; items after shutdown are dropped", async () => {
  const server = await ingestServer();
  const sink = errorSink();
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, onError: sink.onError, ...FAST });

  const emptyFlush = await loop.flush();
  const turn = loop.logTurn({ question: "q" });
  const settled = await loop.flush();
  const shutDown = await loop.shutdown();
  const late = loop.logTurn({ question: "late" });
  const lateFlush = await loop.flush();
  const secondShutdown = await loop.shutdown();

  assert.equal(emptyFlush, true);
  assert.equal(settled, true);
  assert.equal(shutDown, true);
  assert.equal(lateFlush, true);
  assert.equal(secondShutdown, true);
  assert.match(late.id, UUID_PATTERN);
  assert.deepEqual(server.committed, [turn.id]);
  assert.deepEqual(sink.codes(), ["shutdown"]);
  assert.deepEqual(loop.stats, { queued: 0, sent: 1, dropped: 1, retries: 0, failed: 0 });
  await server.close();
});

test("flush with a timeout resolves false when the server is too slow", async () => {
  const server = await ingestServer([() => "hang"]);
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, timeout: 300, maxRetries: 0, onError: () => {}, ...FAST });

  loop.logTurn({ question: "q" });
  const inTime = await loop.flush(50);
  const eventually = await loop.flush();

  assert.equal(inTime, false);
  assert.equal(eventually, true);
  assert.deepEqual(loop.stats, { queued: 0, sent: 0, dropped: 1, retries: 0, failed: 0 });
  await server.close();
});

test("logging calls never throw, whatever they are given", async () => {
  const server = await ingestServer();
  const sink = errorSink();
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, onError: sink.onError, ...FAST });
  /** @type {any} */
  const circular = { name: "loop" };
  circular.self = circular;
  /** @type {any} */
  const anyLoop = loop;

  const circularTurn = loop.logTurn({ question: "q", metadata: circular });
  const bigTurn = loop.logTurn({ question: "q", metadata: { big: 2n ** 70n } });
  const odd = [anyLoop.logTurn(null), anyLoop.logTurn("text"), anyLoop.logTurn({ timestamp: new Date("nope") }), anyLoop.logTurn({ steps: [null] })];
  const badFeedback = [anyLoop.feedback(), anyLoop.feedback("t", { rating: "meh" }), anyLoop.feedback("t", null)];
  const badSignals = [anyLoop.signal(), anyLoop.signal("t"), anyLoop.signal(undefined, "kind")];
  await loop.shutdown();

  assert.match(circularTurn.id, UUID_PATTERN);
  for (const turn of odd) assert.match(turn.id, UUID_PATTERN);
  assert.deepEqual(badFeedback.slice(0, 2), [null, null]);
  assert.match(/** @type {string} */ (badFeedback[2]), UUID_PATTERN);
  assert.deepEqual(badSignals, [false, false, false]);
  assert.deepEqual(sink.codes(), [
    "serialization_error", "serialization_error", "invalid_argument", "invalid_argument", "invalid_argument", "invalid_argument", "invalid_argument",
  ]);
  const sent = server.requests.flatMap((request) => request.json.batch);
  assert.equal(sent.find((/** @type {any} */ item) => item.id === bigTurn.id).body.metadata.big, "1180591620717411303424");
  assert.deepEqual(loop.stats, { queued: 0, sent: 5, dropped: 0, retries: 0, failed: 2 });
  await server.close();
});

test("a throwing or rejecting onError does not reach the caller", async () => {
  const loop = new AgentLoop({ apiKey: "bad", host: "http://127.0.0.1:9", onError: () => { throw new Error("boom"); } });
  const asyncLoop = new AgentLoop({ apiKey: "bad", host: "http://127.0.0.1:9", onError: async () => { throw new Error("boom"); } });

  const turn = loop.logTurn({ question: "q" });
  asyncLoop.logTurn({ question: "q" });
  await new Promise((resolve) => setImmediate(resolve));

  assert.match(turn.id, UUID_PATTERN);
});

test("a bad key or host never throws: it is warned once and what is logged counts as dropped", async (t) => {
  /** @type {string[]} */
  const warnings = [];
  t.mock.method(console, "warn", (/** @type {string} */ message) => warnings.push(message));

  const noKey = new AgentLoop({ apiKey: "sk-not-ours", host: "http://127.0.0.1:9" });
  noKey.logTurn({ question: "a" });
  noKey.logTurn({ question: "b" });
  const noHost = new AgentLoop({ apiKey: API_KEY, host: "localhost:8000" });
  noHost.logTurn({});
  const url = await noKey.feedbackUrl("t");
  const flushed = await noKey.flush();

  assert.equal(url, null);
  assert.equal(flushed, true);
  assert.deepEqual(noKey.stats, { queued: 0, sent: 0, dropped: 2, retries: 0, failed: 0 });
  assert.deepEqual(noHost.stats, { queued: 0, sent: 0, dropped: 1, retries: 0, failed: 0 });
  assert.equal(warnings.length, 2, warnings.join("\n"));
  assert.match(warnings[0], /\(invalid_api_key\)/);
  assert.match(warnings[1], /\(missing_host\)/);
  assert.ok(warnings.every((message) => !message.includes("s3cr3t")));
});

test("enabled: false logs and sends nothing, quietly", async (t) => {
  /** @type {string[]} */
  const warnings = [];
  t.mock.method(console, "warn", (/** @type {string} */ message) => warnings.push(message));
  const server = await ingestServer();
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, enabled: false });

  const turn = loop.logTurn({ question: "q" });
  loop.feedback(turn.id, { rating: "up" });
  loop.signal(turn.id, "x");
  await loop.flush();
  await loop.shutdown();
  const unconfigured = new AgentLoop({ enabled: false, apiKey: "", host: "" });
  unconfigured.logTurn({});

  assert.equal(server.requests.length, 0);
  assert.deepEqual(loop.stats, { queued: 0, sent: 0, dropped: 0, retries: 0, failed: 0 });
  assert.deepEqual(warnings, []);
  await server.close();
});

test("the key and host may come from AGENTLOOP_API_KEY and AGENTLOOP_HOST", async (t) => {
  const server = await ingestServer();
  t.after(() => {
    delete process.env.AGENTLOOP_API_KEY;
    delete process.env.AGENTLOOP_HOST;
  });
  process.env.AGENTLOOP_API_KEY = ` ${API_KEY}\n`;
  process.env.AGENTLOOP_HOST = server.url;

  const loop = new AgentLoop(FAST);
  const turn = loop.logTurn({ question: "q" });
  await loop.shutdown();

  assert.deepEqual(server.committed, [turn.id]);
  assert.equal(server.requests[0].headers.authorization, `Bearer ${API_KEY}`);
  await server.close();
});
