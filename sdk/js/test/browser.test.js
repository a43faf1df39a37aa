import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { readFeedbackUrl, sendFeedback } from "../browser.js";
import { closedPort, startServer } from "./helpers.js";

const BROWSER_SOURCE = readFileSync(fileURLToPath(new URL("../browser.js", import.meta.url)), "utf8");
const VECTORS = JSON.parse(readFileSync(fileURLToPath(new URL("../../test-vectors/feedback-url.json", import.meta.url)), "utf8")).vectors;
const TOKEN = "eyJleHAiOjE3NjcyMjU2MDAsImsiOiJhMWIyYzNkNGU1ZjYiLCJwIjoiMmIxZjFjNTQtM2YwZS00YzhlLTlhNTEtOGQ5YTRjNmIyZTEwIiwidCI6IjdkM2U5ZjRhLTFiMmMtNGQ1ZS04ZjkwLWExYjJjM2Q0ZTVmNiIsInUiOiJ1c2VyLTQyIiwidiI6MX0.Ly6UOCHY6pY0BQHVSZEgGTuY4qI1jqPk7RSAaHK1CDk";

test("the browser entry imports nothing: no node: module, no require, no process, no secret", () => {
  const code = BROWSER_SOURCE.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");

  assert.doesNotMatch(code, /\bimport\b/);
  assert.doesNotMatch(code, /["']node:/);
  assert.doesNotMatch(code, /\brequire\s*\(/);
  assert.doesNotMatch(code, /\bprocess\b/);
  assert.doesNotMatch(code, /\bBuffer\b/);
  assert.doesNotMatch(code, /apiKey|Authorization/i);
});

test("sendFeedback POSTs the JSON to the feedback URL itself, without credentials", async () => {
  const server = await startServer(() => ({ status: 200, body: { ok: true, turn_id: "t" } }));
  const url = `${server.url}/f/${TOKEN}`;

  const result = await sendFeedback(url, { rating: "down", comment: "Wrong plan named", correction: "It is the Pro plan", /** @type {any} */ ...{ extra: "ignored" } });

  assert.deepEqual(result, { ok: true, status: 200 });
  assert.equal(server.requests.length, 1);
  const request = server.requests[0];
  assert.equal(request.method, "POST");
  assert.equal(request.path, `/f/${TOKEN}`);
  assert.equal(request.headers["content-type"], "application/json");
  assert.equal(request.headers.authorization, undefined);
  assert.equal(request.headers.cookie, undefined);
  assert.equal(request.raw.toString("utf8"), "{\"rating\":\"down\",\"comment\":\"Wrong plan named\",\"correction\":\"It is the Pro plan\"}");
  await server.close();
});

test("sendFeedback leaves out absent fields", async () => {
  const server = await startServer(() => ({ status: 201, body: { ok: true } }));

  const result = await sendFeedback(new URL(`${server.url}/f/${TOKEN}`), { rating: "up", comment: undefined });

  assert.deepEqual(result, { ok: true, status: 201 });
  assert.deepEqual(server.requests[0].json, { rating: "up" });
  await server.close();
});

test("sendFeedback returns the server's error code instead of throwing", async () => {
  const server = await startServer((_request, index) =>
    index === 0
      ? { status: 410, body: { code: "link_expired", message: "This feedback link has expired." } }
      : { status: 502, body: "<html>bad gateway</html>" });
  const url = `${server.url}/f/${TOKEN}`;

  const expired = await sendFeedback(url, { rating: "up" });
  const gateway = await sendFeedback(url, { rating: "up" });

  assert.deepEqual(expired, { ok: false, status: 410, code: "link_expired", message: "This feedback link has expired." });
  assert.deepEqual(gateway, { ok: false, status: 502, code: "http_502", message: undefined });
  await server.close();
});

test("sendFeedback on an unreachable host resolves to a network_error", async () => {
  const host = await closedPort();

  const result = await sendFeedback(`${host}/f/${TOKEN}`, { rating: "down" });
  const missing = await sendFeedback("", { rating: "down" });

  assert.equal(result.ok, false);
  assert.equal(result.status, 0);
  assert.equal(result.code, "network_error");
  assert.deepEqual(missing, { ok: false, status: 0, code: "invalid_argument", message: "A feedback URL is required." });
});

test("readFeedbackUrl reads the claims of every shared vector without verifying", () => {
  for (const vector of VECTORS) {
    const claims = readFeedbackUrl(vector.url, 1767225600);

    assert.deepEqual(claims, {
      exp: vector.input.exp,
      keyId: vector.input.key_id,
      projectId: vector.input.project_id,
      turnId: vector.input.turn_id,
      userId: vector.input.user_id,
      expired: vector.input.exp <= 1767225600,
    }, vector.name);
  }
  assert.equal(readFeedbackUrl("https://x.example/f/not-base64!.sig"), null);
  assert.equal(readFeedbackUrl("https://x.example/other"), null);
  assert.equal(readFeedbackUrl("https://x.example/f/e30.sig"), null);
});
