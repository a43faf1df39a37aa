import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import {
  deriveSigningKey,
  encodeFeedbackPayload,
  parseApiKey,
  signFeedbackPayload,
  signFeedbackUrl,
} from "../index.js";
import { pythonJsonString } from "../src/signing.js";

const VECTORS_PATH = fileURLToPath(new URL("../../test-vectors/feedback-url.json", import.meta.url));
const shared = JSON.parse(readFileSync(VECTORS_PATH, "utf8"));

test("the shared vector file is the agentloop-feedback-v1 contract with 14 vectors", () => {
  assert.equal(shared.scheme, "agentloop-feedback-v1");
  assert.equal(shared.vectors.length, 14);
});

for (const vector of shared.vectors) {
  test(`vector "${vector.name}" matches byte for byte`, () => {
    const input = vector.input;

    const signingKey = deriveSigningKey(input.api_key);
    const payload = encodeFeedbackPayload({
      exp: input.exp, keyId: input.key_id, projectId: input.project_id, turnId: input.turn_id, userId: input.user_id,
    });
    const signature = signFeedbackPayload(payload, signingKey);
    const url = signFeedbackUrl({
      apiKey: input.api_key, host: input.host, exp: input.exp, keyId: input.key_id,
      projectId: input.project_id, turnId: input.turn_id, userId: input.user_id,
    });
    const urlWithParsedKeyId = signFeedbackUrl({
      apiKey: input.api_key, host: input.host, exp: input.exp,
      projectId: input.project_id, turnId: input.turn_id, userId: input.user_id,
    });

    assert.equal(Buffer.from(signingKey).toString("hex"), vector.signing_key_hex);
    assert.equal(payload, vector.payload);
    assert.equal(signature, vector.signature);
    assert.equal(url, vector.url);
    assert.equal(urlWithParsedKeyId, vector.url);
    assert.equal(parseApiKey(input.api_key).keyId, input.key_id);
  });
}

test("claims JSON is escaped exactly like Python's json.dumps(ensure_ascii=False)", () => {
  // Expected strings were printed by CPython 3.11's json.dumps(s, ensure_ascii=False).
  assert.equal(pythonJsonString("\x00\x01\x1f\x7f"), "\"\\u0000\\u0001\\u001f\x7f\"");
  assert.equal(pythonJsonString("\u2028\u2029"), "\"\u2028\u2029\"");
  assert.equal(
    pythonJsonString("quote \" backslash \\ tab\t newline\n cr\r bs\b ff\f"),
    "\"quote \\\" backslash \\\\ tab\\t newline\\n cr\\r bs\\b ff\\f\"",
  );
  assert.equal(pythonJsonString("é用🙂"), "\"é用🙂\"");
  assert.equal(pythonJsonString("</script>&<>"), "\"</script>&<>\"");
});

test("payload claims are sorted, compact, with a missing user as an empty string", () => {
  const payload = encodeFeedbackPayload({ exp: 12.9, keyId: "k1", projectId: "p1", turnId: "t1", userId: null });

  const json = Buffer.from(payload, "base64url").toString("utf8");

  assert.equal(json, "{\"exp\":12,\"k\":\"k1\",\"p\":\"p1\",\"t\":\"t1\",\"u\":\"\",\"v\":1}");
  assert.doesNotMatch(payload, /[=+/]/);
});

test("every trailing slash of the host is stripped", () => {
  const base = { apiKey: "al_sk_k1_secret", exp: 1, projectId: "p", turnId: "t" };

  const plain = signFeedbackUrl({ ...base, host: "https://x.example" });
  const slashes = signFeedbackUrl({ ...base, host: "https://x.example///" });

  assert.equal(slashes, plain);
  assert.match(plain, /^https:\/\/x\.example\/f\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
});

test("parseApiKey splits at the first underscore after the prefix", () => {
  assert.deepEqual(parseApiKey("al_sk_a1b2c3d4e5f6_s3cr3t-Value_0123"), { keyId: "a1b2c3d4e5f6", secret: "s3cr3t-Value_0123" });
  assert.deepEqual(parseApiKey("al_sk_k_s"), { keyId: "k", secret: "s" });
  assert.deepEqual(parseApiKey("al_sk_k__"), { keyId: "k", secret: "_" });
});

test("parseApiKey refuses other shapes without echoing the key", () => {
  const bad = ["", "sk-abc", "al_sk_", "al_sk_keyonly", "al_sk__secret", "al_sk_key_", "AL_SK_k_s", " al_sk_k_s"];

  for (const key of bad) {
    assert.throws(() => parseApiKey(key), (error) => error instanceof TypeError && !(key.length > 6 && error.message.includes(key)), key);
  }
  assert.throws(() => parseApiKey(/** @type {any} */ (undefined)), TypeError);
  assert.throws(() => parseApiKey(/** @type {any} */ (42)), TypeError);
});

test("signFeedbackUrl throws TypeError on missing input", () => {
  const good = { apiKey: "al_sk_k1_secret", host: "https://x.example", exp: 1, projectId: "p", turnId: "t" };

  assert.throws(() => signFeedbackUrl({ ...good, apiKey: "" }), TypeError);
  assert.throws(() => signFeedbackUrl({ ...good, apiKey: "not-a-key" }), TypeError);
  assert.throws(() => signFeedbackUrl({ ...good, host: "" }), TypeError);
  assert.throws(() => signFeedbackUrl({ ...good, projectId: "" }), TypeError);
  assert.throws(() => signFeedbackUrl({ ...good, turnId: /** @type {any} */ (undefined) }), TypeError);
  assert.throws(() => signFeedbackUrl({ ...good, exp: /** @type {any} */ ("soon") }), TypeError);
  assert.equal(typeof signFeedbackUrl(good), "string");
});
