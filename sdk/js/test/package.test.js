import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import * as sdk from "../index.js";
import * as browser from "../browser.js";

const read = (/** @type {string} */ path) => readFileSync(fileURLToPath(new URL(path, import.meta.url)), "utf8");
const pkg = JSON.parse(read("../package.json"));

/** The runtime names a hand-written .d.ts declares as exported values. */
function declaredValues(/** @type {string} */ source) {
  return [...source.matchAll(/^export declare (?:function|class|const) (\w+)/gm)].map((match) => match[1]).sort();
}

test("package.json: ESM only, Node 18+, no dependencies, entry points exported", () => {
  assert.equal(pkg.name, "agentloop");
  assert.equal(pkg.type, "module");
  assert.equal(pkg.engines.node, ">=18");
  assert.equal(pkg.dependencies, undefined);
  assert.equal(pkg.devDependencies, undefined);
  assert.deepEqual(pkg.exports["."], { types: "./index.d.ts", default: "./index.js" });
  assert.deepEqual(pkg.exports["./browser"], { types: "./browser.d.ts", default: "./browser.js" });
  assert.equal(sdk.VERSION, pkg.version);
});

test("the package resolves by its own name, both entry points", async () => {
  const main = await import("agentloop");
  const browserEntry = await import("agentloop/browser");

  assert.equal(main.AgentLoop, sdk.AgentLoop);
  assert.equal(browserEntry.sendFeedback, browser.sendFeedback);
});

test("index.d.ts and browser.d.ts declare exactly the runtime exports", () => {
  assert.deepEqual(declaredValues(read("../index.d.ts")), Object.keys(sdk).sort());
  assert.deepEqual(declaredValues(read("../browser.d.ts")), Object.keys(browser).sort());
});
