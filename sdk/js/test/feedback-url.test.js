import { test } from "node:test";
import assert from "node:assert/strict";

import { AgentLoop, signFeedbackUrl } from "../index.js";
import { API_KEY, KEY_ID, PROJECT_ID, errorSink, startServer } from "./helpers.js";

/** @param {string} url */
function claimsOf(url) {
  const token = url.slice(url.indexOf("/f/") + 3);
  const [payload] = token.split(".");
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
}

function authServer(/** @type {any[]} */ answers = []) {
  return startServer((recorded, index) => {
    if (recorded.path !== "/api/v1/auth/check") return { status: 404, body: { code: "not_found", message: "Not found." } };
    return answers[index] ?? {
      status: 200,
      body: { organization: "acme", project: PROJECT_ID, project_name: "Support agent", key_id: KEY_ID },
    };
  });
}

test("with the projectId option the URL is signed locally, for the turn's user, valid for feedbackLinkTtl", async () => {
  const loop = new AgentLoop({ apiKey: API_KEY, host: "https://agentloop.example.com/", projectId: PROJECT_ID, enabled: false, feedbackLinkTtl: 3600 });
  const before = Math.floor(Date.now() / 1000);

  const turn = loop.logTurn({ question: "q", userId: "José" });
  const url = /** @type {string} */ (await turn.feedbackUrl());

  const claims = claimsOf(url);
  assert.deepEqual(Object.keys(claims), ["exp", "k", "p", "t", "u", "v"]);
  assert.deepEqual({ ...claims, exp: 0 }, { exp: 0, k: KEY_ID, p: PROJECT_ID, t: turn.id, u: "José", v: 1 });
  assert.ok(claims.exp >= before + 3600 && claims.exp <= Math.floor(Date.now() / 1000) + 3600);
  assert.equal(url, signFeedbackUrl({ apiKey: API_KEY, host: "https://agentloop.example.com", exp: claims.exp, projectId: PROJECT_ID, turnId: turn.id, userId: "José" }));
  assert.ok(url.startsWith("https://agentloop.example.com/f/"));
});

test("the default link lifetime is 30 days", async () => {
  const loop = new AgentLoop({ apiKey: API_KEY, host: "https://x.example", projectId: PROJECT_ID, enabled: false });

  const url = /** @type {string} */ (await loop.feedbackUrl("t-1"));

  const lifetime = claimsOf(url).exp - Math.floor(Date.now() / 1000);
  assert.ok(lifetime <= 30 * 86400 && lifetime >= 30 * 86400 - 2, String(lifetime));
  assert.equal(claimsOf(url).u, "");
});

test("without projectId one GET /api/v1/auth/check finds it, and the answer is cached", async () => {
  const server = await authServer();
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, flushInterval: 60000 });

  const turns = [loop.logTurn({ userId: "a" }), loop.logTurn({ userId: "b" }), loop.logTurn({})];
  const urls = await Promise.all(turns.map((turn) => turn.feedbackUrl()));
  const later = await loop.feedbackUrl(turns[0].id);

  const checks = server.requests.filter((request) => request.path === "/api/v1/auth/check");
  assert.equal(checks.length, 1);
  assert.equal(checks[0].method, "GET");
  assert.equal(checks[0].headers.authorization, `Bearer ${API_KEY}`);
  assert.deepEqual(urls.map((url) => claimsOf(/** @type {string} */ (url)).p), [PROJECT_ID, PROJECT_ID, PROJECT_ID]);
  assert.deepEqual(urls.map((url) => claimsOf(/** @type {string} */ (url)).u), ["a", "b", ""]);
  assert.equal(claimsOf(/** @type {string} */ (later)).t, turns[0].id);
  await loop.shutdown(0);
  await server.close();
});

test("a failed project lookup resolves to null, is reported, and is tried again next time", async () => {
  const server = await authServer([{ status: 401, body: { code: "invalid_api_key", message: "Invalid or revoked API key.", field: null } }]);
  const sink = errorSink();
  const loop = new AgentLoop({ apiKey: API_KEY, host: server.url, onError: sink.onError, flushInterval: 60000 });

  const first = await loop.feedbackUrl("t-1");
  const second = await loop.feedbackUrl("t-1");

  assert.equal(first, null);
  assert.equal(claimsOf(/** @type {string} */ (second)).p, PROJECT_ID);
  assert.deepEqual(sink.codes(), ["invalid_api_key"]);
  assert.equal(sink.errors[0].status, 401);
  assert.equal(server.requests.length, 2);
  await loop.shutdown(0);
  await server.close();
});

test("feedbackUrl never rejects: unreachable host, missing turn id, enabled: false without projectId", async () => {
  const sink = errorSink();
  const unreachable = new AgentLoop({ apiKey: API_KEY, host: "http://127.0.0.1:9", onError: sink.onError, timeout: 2000 });
  const disabled = new AgentLoop({ apiKey: API_KEY, host: "http://127.0.0.1:9", enabled: false, onError: sink.onError });

  const results = [
    await unreachable.feedbackUrl("t-1"),
    await unreachable.feedbackUrl(/** @type {any} */ (undefined)),
    await disabled.feedbackUrl("t-1"),
  ];

  assert.deepEqual(results, [null, null, null]);
  assert.deepEqual(sink.codes(), ["auth_check_failed", "invalid_argument", "project_id_unknown"]);
  await unreachable.shutdown(0);
});
