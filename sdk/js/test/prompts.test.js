// loop.prompt(): the TTL cache, ETag revalidation, the last good copy, refusals, render().

import assert from "node:assert/strict";
import { test } from "node:test";

import { AgentLoop, Prompt } from "../index.js";
import { API_KEY, startServer } from "./helpers.js";

const BODY = {
  name: "support-agent", version: 2, labels: ["production"], template: "Hi {{name}}, about {{ topic }}",
  variables: ["name", "topic"], tools: [{ name: "t" }], settings: { model: "m" }, message: "v2", created_at: "2026-01-01T00:00:00Z",
};

function client(url, options = {}) {
  return new AgentLoop({ apiKey: API_KEY, host: url, onError: () => {}, ...options });
}

test("a fresh hit makes no request; a stale one revalidates with If-None-Match", async () => {
  const server = await startServer((request) =>
    request.headers["if-none-match"] === '"e2"' ? { status: 304, headers: { ETag: '"e2"' } } : { status: 200, headers: { ETag: '"e2"' }, body: BODY });
  const loop = client(server.url);
  try {
    const first = await loop.prompt("support-agent", { label: "production" });
    const again = await loop.prompt("support-agent", { label: "production" });
    const revalidated = await loop.prompt("support-agent", { label: "production", ttl: 0 });

    assert.equal(first, again);
    assert.equal(revalidated, first);
    assert.deepEqual(server.requests.map((r) => [r.path, r.headers["if-none-match"] ?? null]), [
      ["/api/v1/prompts/support-agent?label=production", null],
      ["/api/v1/prompts/support-agent?label=production", '"e2"'],
    ]);
    assert.equal(server.requests[0].headers.authorization, `Bearer ${API_KEY}`);
    assert.equal(first.reference, "support-agent@2");
    assert.equal(first.render({ name: "Ann", topic: "refunds" }), "Hi Ann, about refunds");
    assert.throws(() => first.render({ name: "Ann" }), (error) => error.code === "missing_variables" && /topic/.test(error.message));
  } finally {
    await loop.shutdown(100);
    await server.close();
  }
});

test("concurrent calls share one request; version and default label", async () => {
  const server = await startServer(() => ({ status: 200, headers: { ETag: '"e"' }, body: BODY }));
  const loop = client(server.url);
  try {
    const results = await Promise.all(Array.from({ length: 10 }, () => loop.prompt("support-agent")));
    await loop.prompt("support-agent", { version: 2 });

    assert.ok(results.every((prompt) => prompt === results[0]));
    assert.deepEqual(server.requests.map((r) => r.path), [
      "/api/v1/prompts/support-agent?label=production", "/api/v1/prompts/support-agent?version=2",
    ]);
    await assert.rejects(loop.prompt("support-agent", { label: "a", version: 1 }), (error) => error.code === "invalid_argument");
  } finally {
    await loop.shutdown(100);
    await server.close();
  }
});

test("with the server down the last good copy is served; without one it rejects", async () => {
  const server = await startServer((request, index) => (index === 0 ? { status: 200, headers: { ETag: '"e"' }, body: BODY } : { status: 503 }));
  const errors = [];
  const loop = client(server.url, { onError: (error) => errors.push(error.code) });
  try {
    const cached = await loop.prompt("support-agent");
    const served = await loop.prompt("support-agent", { ttl: 0 });
    await server.close();
    const servedOffline = await loop.prompt("support-agent", { ttl: 0 });

    assert.equal(served, cached);
    assert.equal(servedOffline, cached);
    assert.deepEqual(errors, ["prompt_stale"]);  // the second failure is inside the 5 s hold
    await assert.rejects(loop.prompt("support-agent", { label: "staging" }), (error) => error.code === "prompt_unavailable");
  } finally {
    await loop.shutdown(100);
  }
});

test("the server's refusals reject with its code", async () => {
  const server = await startServer(() => ({ status: 404, body: { code: "not_found", message: "support-agent has no label 'x'.", field: null } }));
  const loop = client(server.url);
  try {
    await assert.rejects(loop.prompt("support-agent", { label: "x" }), (error) => error.code === "not_found" && error.status === 404);
  } finally {
    await loop.shutdown(100);
    await server.close();
  }
});

test("Prompt objects are frozen", () => {
  const prompt = new Prompt(BODY, '"e"');

  assert.throws(() => { prompt.version = 3; });
  assert.deepEqual(prompt.variables, ["name", "topic"]);
});
