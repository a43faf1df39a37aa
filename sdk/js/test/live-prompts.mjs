#!/usr/bin/env node
// Live check of `loop.prompt()` against a running AgentLoop server (run by tests/sdk/test_js_prompts.py):
//
//     AGENTLOOP_HOST=http://localhost:8000 AGENTLOOP_API_KEY=al_sk_… node sdk/js/test/live-prompts.mjs
//
// The server must hold prompt "support-agent" with label "production". The SDK talks to it through
// a local forwarding proxy, which the script closes halfway to take "the server" down. It prints one
// line of JSON: {"production": {...}, "version1": n, "rendered": "...", "revalidated_same": bool,
// "statuses": [...], "offline_same": bool, "offline_errors": [...], "uncached_error": "<code>",
// "missing_variable_error": "<code>"}.

import { createServer, request as httpRequest } from "node:http";

if (process.env.NODE_TEST_CONTEXT) {
  const { test } = await import("node:test");
  test("live prompts check (run by the Python suite)", { skip: "needs AGENTLOOP_HOST and AGENTLOOP_API_KEY" }, () => {});
} else {
  const { AgentLoop } = await import("../index.js");
  const upstream = new URL(process.env.AGENTLOOP_HOST);
  const statuses = [];
  const sockets = new Set();
  const proxy = createServer((req, res) => {
    const forwarded = httpRequest({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      statuses.push(answer.statusCode);
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forwarded.on("error", () => { res.writeHead(502); res.end(); });
    req.pipe(forwarded);
  });
  proxy.on("connection", (socket) => { sockets.add(socket); socket.on("close", () => sockets.delete(socket)); });
  await new Promise((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const offlineErrors = [];
  const loop = new AgentLoop({
    apiKey: process.env.AGENTLOOP_API_KEY, host: `http://127.0.0.1:${proxy.address().port}`, timeout: 3000,
    onError: (error) => offlineErrors.push(error.code),
  });
  const production = await loop.prompt("support-agent", { label: "production" });
  const version1 = await loop.prompt("support-agent", { version: 1 });
  const revalidated = await loop.prompt("support-agent", { label: "production", ttl: 0 });
  let missing = "";
  try {
    production.render({});
  } catch (error) {
    missing = error.code;
  }
  await new Promise((resolve) => { for (const socket of sockets) socket.destroy(); proxy.close(resolve); });
  const offline = await loop.prompt("support-agent", { label: "production", ttl: 0 });
  let uncached = "";
  try {
    await loop.prompt("support-agent", { label: "staging" });
  } catch (error) {
    uncached = error.code;
  }
  const variables = Object.fromEntries(production.variables.map((name) => [name, `<${name}>`]));
  console.log(JSON.stringify({
    production: { version: production.version, labels: production.labels, tools: production.tools, settings: production.settings,
                  reference: production.reference, message: production.message },
    version1: version1.version, rendered: production.render(variables), revalidated_same: revalidated === production,
    statuses, offline_same: offline === production, offline_errors: offlineErrors, uncached_error: uncached,
    missing_variable_error: missing,
  }));
  await loop.shutdown(100);
}
