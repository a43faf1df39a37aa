import { test } from "node:test";
import assert from "node:assert/strict";

import { AgentLoop } from "../index.js";
import { parseRetryAfter } from "../src/transport.js";
import { API_KEY, FAST, closedPort, errorSink, ingestServer, sentIds } from "./helpers.js";

const unavailable = { status: 503, headers: { "Retry-After": "0" }, body: { code: "unavailable", message: "The database is unavailable; retry shortly." } };

test("503 with Retry-After a few times, then 207: nothing lost, nothing duplicated", async () => {
  const server = await ingestServer([unavailable, unavailable, unavailable]);
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, ...FAST });

  const ids = Array.from({ length: 20 }, (_, n) => loop.logTurn({ question: `q${n}` }).id);
  const feedbackId = loop.feedback(ids[0], { rating: "down" });
  await loop.flush();

  assert.equal(server.requests.length, 4);
  for (const request of server.requests) assert.deepEqual(request.json.batch.map((/** @type {any} */ item) => item.id), [...ids, feedbackId]);
  assert.deepEqual(server.committed, [...ids, feedbackId]);
  assert.equal(new Set(server.committed).size, 21);
  assert.deepEqual(loop.stats, { queued: 0, sent: 21, dropped: 0, retries: 3, failed: 0 });
  await loop.shutdown();
  await server.close();
});

test("Retry-After is honoured", async () => {
  const server = await ingestServer([{ status: 503, headers: { "Retry-After": "1" } }]);
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, ...FAST });
  const started = Date.now();

  const turn = loop.logTurn({ question: "q" });
  await loop.flush();

  assert.ok(Date.now() - started >= 950, `retried after ${Date.now() - started} ms`);
  assert.deepEqual(server.committed, [turn.id]);
  await loop.shutdown();
  await server.close();
});

test("429 is retried", async () => {
  const tooMany = { status: 429, headers: { "Retry-After": "0" }, body: { code: "throttled", message: "slow down" } };
  const server = await ingestServer([tooMany, tooMany]);
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, ...FAST });

  const ids = [loop.logTurn({}).id, loop.logTurn({}).id];
  await loop.flush();

  assert.equal(server.requests.length, 3);
  assert.deepEqual(server.committed, ids);
  assert.deepEqual(loop.stats, { queued: 0, sent: 2, dropped: 0, retries: 2, failed: 0 });
  await loop.shutdown();
  await server.close();
});

test("500 without Retry-After and a cut connection are retried with backoff", async () => {
  const server = await ingestServer([{ status: 500, body: "oops" }, "destroy", { status: 502 }]);
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, ...FAST });

  const turn = loop.logTurn({});
  await loop.flush();

  assert.deepEqual(sentIds(server.requests), [turn.id, turn.id, turn.id, turn.id]);
  assert.deepEqual(server.committed, [turn.id]);
  assert.equal(loop.stats.retries, 3);
  await loop.shutdown();
  await server.close();
});

test("413 splits the batch in halves until it fits", async () => {
  const server = await ingestServer(
    Array.from({ length: 20 }, () => (/** @type {any} */ recorded) => (recorded.json.batch.length > 2 ? { status: 413, body: { code: "payload_too_large", message: "too big" } } : undefined)),
  );
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, ...FAST });

  const ids = Array.from({ length: 7 }, () => loop.logTurn({}).id);
  await loop.flush();

  assert.deepEqual(server.requests.map((request) => request.json.batch.length), [7, 4, 2, 2, 3, 2, 1]);
  assert.deepEqual(server.committed, ids);
  assert.deepEqual(loop.stats, { queued: 0, sent: 7, dropped: 0, retries: 0, failed: 0 });
  await loop.shutdown();
  await server.close();
});

test("a single item the server always finds too large fails alone", async () => {
  const server = await ingestServer(
    Array.from({ length: 20 }, () => (/** @type {any} */ recorded) =>
      recorded.json.batch.some((/** @type {any} */ item) => item.body.question === "huge") ? { status: 413 } : undefined),
  );
  const sink = errorSink();
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, onError: sink.onError, ...FAST });

  const small = loop.logTurn({ question: "small" });
  const huge = loop.logTurn({ question: "huge" });
  await loop.flush();

  assert.deepEqual(server.committed, [small.id]);
  assert.deepEqual(sink.codes(), ["payload_too_large"]);
  assert.equal(sink.errors[0].itemId, huge.id);
  assert.deepEqual(loop.stats, { queued: 0, sent: 1, dropped: 0, retries: 0, failed: 1 });
  await loop.shutdown();
  await server.close();
});

for (const [status, code] of [[400, "invalid"], [401, "invalid_api_key"], [403, "permission_denied"]]) {
  test(`${status} is final: no retry, items counted as failed, the server's code reported`, async () => {
    const server = await ingestServer([{ status, body: { code, message: "refused", field: null } }]);
    const sink = errorSink();
    const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, onError: sink.onError, ...FAST });

    loop.logTurn({});
    loop.logTurn({});
    await loop.flush();

    assert.equal(server.requests.length, 1);
    assert.deepEqual(sink.codes(), [code]);
    assert.equal(sink.errors[0].status, status);
    assert.equal(sink.errors[0].count, 2);
    assert.deepEqual(loop.stats, { queued: 0, sent: 0, dropped: 0, retries: 0, failed: 2 });
    await loop.shutdown();
    await server.close();
  });
}

test("a per-item 4xx in a 207 is a permanent rejection of that item only", async () => {
  const server = await ingestServer([], (_item, index) => (index === 1 ? 400 : 201));
  const sink = errorSink();
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, onError: sink.onError, ...FAST });

  const ids = [loop.logTurn({}).id, loop.logTurn({}).id, loop.logTurn({}).id];
  await loop.flush();

  assert.equal(server.requests.length, 1);
  assert.deepEqual(server.committed, [ids[0], ids[2]]);
  assert.deepEqual(sink.codes(), ["invalid"]);
  assert.equal(sink.errors[0].itemId, ids[1]);
  assert.equal(sink.errors[0].itemType, "turn");
  assert.equal(sink.errors[0].field, "question");
  assert.deepEqual(loop.stats, { queued: 0, sent: 2, dropped: 0, retries: 0, failed: 1 });
  await loop.shutdown();
  await server.close();
});

test("a per-item 503 in a 207 resends that item only", async () => {
  let deferred = true;
  const server = await ingestServer([], (_item, index) => {
    if (index === 0 && deferred) {
      deferred = false;
      return 503;
    }
    return 201;
  });
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, ...FAST });

  const ids = [loop.logTurn({}).id, loop.logTurn({}).id];
  await loop.flush();

  assert.deepEqual(server.requests.map((request) => request.json.batch.map((/** @type {any} */ item) => item.id)), [ids, [ids[0]]]);
  assert.deepEqual(server.committed, [ids[1], ids[0]]);
  assert.deepEqual(loop.stats, { queued: 0, sent: 2, dropped: 0, retries: 1, failed: 0 });
  await loop.shutdown();
  await server.close();
});

test("an unreachable host never throws; the batch is dropped after maxRetries", async () => {
  const host = await closedPort();
  const sink = errorSink();
  const loop = new AgentLoop({ apiKey: API_KEY, host, maxRetries: 3, onError: sink.onError, ...FAST });

  const turn = loop.logTurn({ question: "q" });
  loop.feedback(turn.id, { rating: "up" });
  loop.signal(turn.id, "thumbs_up");
  const settled = await loop.flush();

  assert.equal(settled, true);
  assert.deepEqual(sink.codes(), ["retries_exhausted"]);
  assert.match(sink.errors[0].message, /Could not reach/);
  assert.deepEqual(loop.stats, { queued: 0, sent: 0, dropped: 3, retries: 3, failed: 0 });
  assert.equal(await loop.shutdown(), true);
});

test("a server that never answers times out and is retried", async () => {
  const server = await ingestServer(["hang"]);
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, timeout: 200, ...FAST });

  const turn = loop.logTurn({});
  await loop.flush();

  assert.deepEqual(sentIds(server.requests), [turn.id, turn.id]);
  assert.deepEqual(server.committed, [turn.id]);
  assert.deepEqual(loop.stats, { queued: 0, sent: 1, dropped: 0, retries: 1, failed: 0 });
  await loop.shutdown();
  await server.close();
});

test("Retry-After parsing: seconds, HTTP dates, garbage", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");

  assert.equal(parseRetryAfter("5", now), 5000);
  assert.equal(parseRetryAfter(" 0 ", now), 0);
  assert.equal(parseRetryAfter("Wed, 01 Jan 2025 00:00:07 GMT", now), 7000);
  assert.equal(parseRetryAfter("Tue, 31 Dec 2024 23:00:00 GMT", now), 0);
  assert.equal(parseRetryAfter("soon", now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});
