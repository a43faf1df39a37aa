// loop.validate / loop.validation against a live server (tests/sdk/test_js_validations.py).

if (process.env.NODE_TEST_CONTEXT) {
  const { test } = await import("node:test");
  test("live validations check (run by the Python suite)", { skip: "needs AGENTLOOP_HOST and AGENTLOOP_API_KEY" }, () => {});
} else {
  const { AgentLoop } = await import("../index.js");
  const loop = new AgentLoop({ apiKey: process.env.AGENTLOOP_API_KEY, host: process.env.AGENTLOOP_HOST });
  const baseline = Number(process.env.BASELINE), candidate = Number(process.env.CANDIDATE);
  const started = await loop.validate({ kind: "offline", baseline, candidate, metrics: ["exact"] }, { wait: false });
  let refused = null;
  try {
    await loop.validate({ kind: "offline", baseline, candidate: baseline });
  } catch (error) {
    refused = error.code;
  }
  const again = await loop.validation(started.id);
  await loop.shutdown(100);
  console.log(JSON.stringify({ id: started.id, status: started.status, again: again.id, refused }));
}
