// The SDK must neither keep a Node process alive nor lose what it queued when the process ends.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

import { API_KEY, closedPort, ingestServer } from "./helpers.js";

const INDEX_URL = new URL("../index.js", import.meta.url).href;

/**
 * Run an ES module snippet in a fresh Node process; resolves with its exit code, stdout and run time.
 *
 * @param {string} code
 */
function runNode(code) {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

test("a script that logs and simply ends still delivers its turns (beforeExit flush)", async () => {
  const server = await ingestServer();

  const result = /** @type {any} */ (await runNode(`
    import { AgentLoop } from ${JSON.stringify(INDEX_URL)};
    const loop = new AgentLoop({ apiKey: ${JSON.stringify(API_KEY)}, host: ${JSON.stringify(server.url)}, flushInterval: 60000 });
    const ids = [loop.logTurn({ question: "a" }).id, loop.logTurn({ question: "b" }).id];
    console.log(JSON.stringify(ids));
  `));

  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(server.committed, JSON.parse(result.stdout));
  await server.close();
});

test("an idle client does not keep the process alive", async () => {
  const result = /** @type {any} */ (await runNode(`
    import { AgentLoop } from ${JSON.stringify(INDEX_URL)};
    new AgentLoop({ apiKey: ${JSON.stringify(API_KEY)}, host: "http://127.0.0.1:9", flushInterval: 100000 });
  `));

  assert.equal(result.code, 0, result.stderr);
  assert.ok(result.ms < 3000, `took ${result.ms} ms`);
});

test("with the server down the process still exits, after the bounded retries", async () => {
  const host = await closedPort();

  const result = /** @type {any} */ (await runNode(`
    import { AgentLoop } from ${JSON.stringify(INDEX_URL)};
    const loop = new AgentLoop({ apiKey: ${JSON.stringify(API_KEY)}, host: ${JSON.stringify(host)}, maxRetries: 2, retryBaseDelay: 10 });
    loop.logTurn({ question: "lost" });
    process.on("exit", () => console.log(JSON.stringify(loop.stats)));
  `));

  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), { queued: 0, sent: 0, dropped: 1, retries: 2, failed: 0 });
  assert.match(result.stderr, /\[agentloop\] .*\(retries_exhausted\)/);
  assert.ok(result.ms < 5000, `took ${result.ms} ms`);
});
