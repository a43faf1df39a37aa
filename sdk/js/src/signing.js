/**
 * Signed no-login feedback URLs, byte for byte the scheme in DESIGN.md ("Signed feedback URLs")
 * and the server's reference `apps/feedback/signing.py`:
 *
 *     signing key = HMAC-SHA256(key = <secret API key, UTF-8>, msg = "agentloop-feedback-v1")
 *     payload     = base64url-nopad(JSON {"exp","k","p","t","u","v"}: sorted keys, no spaces, UTF-8)
 *     signature   = base64url-nopad(HMAC-SHA256(signing key, payload as ASCII))
 *     URL         = {host without trailing "/"}/f/{payload}.{signature}
 *
 * `sdk/test-vectors/feedback-url.json` is the contract; `test/signing.test.js` checks every vector.
 */

import { createHmac } from "node:crypto";
import { Buffer } from "node:buffer";

export const KEY_PREFIX = "al_sk_";
export const SIGNING_CONTEXT = "agentloop-feedback-v1";
const LINK_VERSION = 1;

/**
 * Split a secret API key `al_sk_<key id>_<secret>` the way the server does (the key id ends at
 * the first "_" after the prefix; the secret may itself contain "_").
 *
 * The message of the thrown error never contains the key.
 *
 * @param {string} apiKey
 * @returns {{ keyId: string, secret: string }}
 * @throws {TypeError} when the key is not of that shape
 */
export function parseApiKey(apiKey) {
  if (typeof apiKey !== "string" || !apiKey.startsWith(KEY_PREFIX)) {
    throw new TypeError(`An AgentLoop API key starts with "${KEY_PREFIX}".`);
  }
  const rest = apiKey.slice(KEY_PREFIX.length);
  const separator = rest.indexOf("_");
  if (separator <= 0 || separator === rest.length - 1) {
    throw new TypeError(`An AgentLoop API key looks like "${KEY_PREFIX}<key id>_<secret>".`);
  }
  return { keyId: rest.slice(0, separator), secret: rest.slice(separator + 1) };
}

/**
 * The 32-byte key that signs feedback links: HMAC-SHA256 keyed by the whole secret API key.
 * The server stores this derived key, never the secret.
 *
 * @param {string} apiKey the whole secret key, `al_sk_<key id>_<secret>`
 * @returns {Buffer}
 */
export function deriveSigningKey(apiKey) {
  return createHmac("sha256", Buffer.from(String(apiKey), "utf8")).update(SIGNING_CONTEXT, "utf8").digest();
}

const SHORT_ESCAPES = new Map([
  ["\"", "\\\""],
  ["\\", "\\\\"],
  ["\b", "\\b"],
  ["\f", "\\f"],
  ["\n", "\\n"],
  ["\r", "\\r"],
  ["\t", "\\t"],
]);

/**
 * A JSON string literal exactly as Python's `json.dumps(..., ensure_ascii=False)` writes it:
 * `"` `\` and the short escapes, other control characters as lowercase `\u00xx`, everything
 * else (including non-ASCII) left as is.
 *
 * @param {string} text
 * @returns {string}
 */
export function pythonJsonString(text) {
  let out = "\"";
  for (const character of text) {
    const short = SHORT_ESCAPES.get(character);
    if (short !== undefined) {
      out += short;
    } else if (character < " ") {
      out += "\\u" + character.charCodeAt(0).toString(16).padStart(4, "0");
    } else {
      out += character;
    }
  }
  return out + "\"";
}

/** @param {unknown} value @param {string} name */
function requireId(value, name) {
  if (value === undefined || value === null || value === "") {
    throw new TypeError(`${name} is required to sign a feedback URL.`);
  }
  return String(value);
}

/**
 * @param {unknown} exp
 * @returns {number}
 */
function toExpiry(exp) {
  const seconds = Math.trunc(Number(exp));
  if (!Number.isSafeInteger(seconds)) {
    throw new TypeError("exp must be a Unix time in whole seconds.");
  }
  return seconds;
}

/**
 * The payload half of a feedback token (base64url of the sorted, compact JSON claims).
 *
 * @param {{ exp: number, keyId: string, projectId: string, turnId: string, userId?: string | null }} claims
 * @returns {string}
 */
export function encodeFeedbackPayload({ exp, keyId, projectId, turnId, userId }) {
  const json =
    "{\"exp\":" + String(toExpiry(exp)) +
    ",\"k\":" + pythonJsonString(requireId(keyId, "keyId")) +
    ",\"p\":" + pythonJsonString(requireId(projectId, "projectId")) +
    ",\"t\":" + pythonJsonString(requireId(turnId, "turnId")) +
    ",\"u\":" + pythonJsonString(userId === undefined || userId === null ? "" : String(userId)) +
    ",\"v\":" + String(LINK_VERSION) + "}";
  return Buffer.from(json, "utf8").toString("base64url");
}

/**
 * The signature half of a feedback token.
 *
 * @param {string} payload the base64url payload (ASCII)
 * @param {Uint8Array} signingKey from {@link deriveSigningKey}
 * @returns {string}
 */
export function signFeedbackPayload(payload, signingKey) {
  return createHmac("sha256", signingKey).update(Buffer.from(payload, "ascii")).digest("base64url");
}

/**
 * `host` without its trailing slashes (Python's `host.rstrip("/")`).
 *
 * @param {string} host
 * @returns {string}
 */
export function normalizeHost(host) {
  return String(host).replace(/\/+$/, "");
}

/**
 * A signed no-login feedback URL `{host}/f/{payload}.{signature}`.
 *
 * Unlike the logging methods this is a pure function and throws `TypeError` on bad input.
 *
 * @param {object} options
 * @param {string} options.apiKey the whole secret key, `al_sk_<key id>_<secret>`
 * @param {string} options.host e.g. `https://agentloop.example.com`
 * @param {number} options.exp expiry, Unix seconds
 * @param {string} [options.keyId] defaults to the key id inside `apiKey`
 * @param {string} options.projectId the project the key belongs to
 * @param {string} options.turnId
 * @param {string | null} [options.userId] the end user the link is for ("" when unknown)
 * @returns {string}
 */
export function signFeedbackUrl({ apiKey, host, exp, keyId, projectId, turnId, userId }) {
  if (typeof host !== "string" || host === "") {
    throw new TypeError("host is required to sign a feedback URL.");
  }
  if (typeof apiKey !== "string" || apiKey === "") {
    throw new TypeError("apiKey is required to sign a feedback URL.");
  }
  const resolvedKeyId = keyId === undefined || keyId === null || keyId === "" ? parseApiKey(apiKey).keyId : keyId;
  const payload = encodeFeedbackPayload({ exp, keyId: resolvedKeyId, projectId, turnId, userId });
  const signature = signFeedbackPayload(payload, deriveSigningKey(apiKey));
  return `${normalizeHost(host)}/f/${payload}.${signature}`;
}
