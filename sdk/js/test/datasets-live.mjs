#!/usr/bin/env node
// Live check of the JS SDK's dataset calls (run by tests/sdk/test_js_sdk.py):
//
//     AGENTLOOP_HOST=… AGENTLOOP_API_KEY=al_sk_… TURN_ID=<a turn of the key's project> node sdk/js/test/datasets-live.mjs
//
// Creates "JS cases", adds the turn and 250 hand-written cases in two versions, reads version 1
// and the latest page by page, and provokes two errors; prints one line of JSON with what it saw.

if (process.env.NODE_TEST_CONTEXT) {
  const { test } = await import("node:test");
  test("datasets-live.mjs runs only against a live server", { skip: true }, () => {});
} else {
  const { AgentLoop } = await import("../index.js");
  const loop = new AgentLoop({ flushInterval: 50 });
  const out = {};
  await loop.createDataset("JS cases", "from the JS SDK");
  const first = await loop.addCases("JS cases", [{ turn_id: process.env.TURN_ID, split: "regression" }], { message: "turn" });
  const hand = Array.from({ length: 250 }, (_, i) => ({ input: `js q${i}`, expected_output: `js a${i}`, tags: ["js"] }));
  const second = await loop.addCases("JS cases", hand);
  const pinned = await loop.dataset("JS cases", { version: 1 });
  const latest = await loop.dataset("JS cases", { pageSize: 100 });
  const inputs = [];
  for await (const item of latest) inputs.push(item.input);
  out.first = { version: first.version, added: first.added, statuses: first.results.map((r) => r.status) };
  out.second = { version: second.version, added: second.added };
  out.pinned = { version: pinned.version, casesCount: pinned.casesCount, cases: (await pinned.cases()).map((c) => [c.input, c.expected_output, c.lineage.turn_id]) };
  out.latest = { version: latest.version, casesCount: latest.casesCount, count: inputs.length, firstHand: inputs[1], last: inputs.at(-1) };
  out.errors = [];
  for (const attempt of [() => loop.dataset("No such"), () => loop.createDataset("JS cases")]) {
    try {
      await attempt();
      out.errors.push(null);
    } catch (error) {
      out.errors.push([error.code, error.status]);
    }
  }
  await loop.shutdown(2000);
  console.log(JSON.stringify(out));
}
