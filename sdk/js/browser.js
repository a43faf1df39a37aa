/**
 * agentloop/browser — safe to ship to end users' browsers: it never holds an API key.
 *
 * Your backend makes a signed feedback URL (`await turn.feedbackUrl()`) and hands it to the page;
 * the page posts the user's verdict straight to that URL. The signature in the URL is the only
 * credential, and it is good for that one turn and user until it expires.
 *
 * This file must not import `node:` modules (a test reads it to make sure).
 */

/**
 * @typedef {object} BrowserFeedback
 * @property {"up" | "down"} [rating]
 * @property {string} [comment]
 * @property {string} [correction] what the answer should have been
 */

/**
 * @typedef {object} SendFeedbackResult
 * @property {boolean} ok
 * @property {number} status HTTP status; 0 when the server could not be reached
 * @property {string} [code] the server's error code, `network_error` or `invalid_argument`
 * @property {string} [message]
 */

/**
 * @typedef {object} SendFeedbackOptions
 * @property {number} [timeout] milliseconds (10000)
 * @property {typeof fetch} [fetch] a fetch implementation (defaults to the global one)
 */

/**
 * @typedef {object} FeedbackUrlClaims
 * @property {number} exp expiry, Unix seconds
 * @property {string} keyId
 * @property {string} projectId
 * @property {string} turnId
 * @property {string} userId
 * @property {boolean} expired whether `exp` has passed on this device's clock
 */

/**
 * @param {unknown} value
 * @returns {value is Record<string, any>}
 */
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * POST the user's feedback as JSON to the signed feedback URL itself. Never rejects: failures
 * come back as `{ ok: false, status, code, message }`.
 *
 * @param {string | URL} feedbackUrl `{host}/f/{payload}.{signature}`
 * @param {BrowserFeedback} [feedback]
 * @param {SendFeedbackOptions} [options]
 * @returns {Promise<SendFeedbackResult>}
 */
export async function sendFeedback(feedbackUrl, feedback = {}, options = {}) {
  /** @type {Record<string, unknown>} */
  const input = isObject(feedback) ? feedback : {};
  /** @type {Record<string, unknown>} */
  const body = {};
  for (const field of ["rating", "comment", "correction"]) {
    if (input[field] !== undefined && input[field] !== null) body[field] = input[field];
  }
  const fetchImpl = options && typeof options.fetch === "function" ? options.fetch : globalThis.fetch;
  if (typeof fetchImpl !== "function") {
    return { ok: false, status: 0, code: "network_error", message: "fetch is not available." };
  }
  if (!feedbackUrl) {
    return { ok: false, status: 0, code: "invalid_argument", message: "A feedback URL is required." };
  }
  const timeout = options && typeof options.timeout === "number" && options.timeout > 0 ? options.timeout : 10000;
  const signal = typeof AbortSignal !== "undefined" && typeof AbortSignal.timeout === "function" ? AbortSignal.timeout(timeout) : undefined;
  /** @type {Response} */
  let response;
  try {
    response = await fetchImpl(String(feedbackUrl), {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
      signal,
    });
  } catch (error) {
    const err = /** @type {any} */ (error);
    const message = err && (err.name === "TimeoutError" || err.name === "AbortError") ? "The request timed out." : String((err && err.message) || error);
    return { ok: false, status: 0, code: "network_error", message };
  }
  /** @type {unknown} */
  let data;
  try {
    data = await response.json();
  } catch {
    data = undefined;
  }
  if (response.ok && !(isObject(data) && data.ok === false)) {
    return { ok: true, status: response.status };
  }
  return {
    ok: false,
    status: response.status,
    code: isObject(data) && typeof data.code === "string" ? data.code : `http_${response.status}`,
    message: isObject(data) && typeof data.message === "string" ? data.message : undefined,
  };
}

/**
 * Read (without verifying: only the server can) the claims inside a feedback URL, e.g. to hide a
 * feedback widget whose link has expired. Returns null for anything that is not a feedback URL.
 *
 * @param {string | URL} feedbackUrl
 * @param {number} [nowSeconds] defaults to this device's clock
 * @returns {FeedbackUrlClaims | null}
 */
export function readFeedbackUrl(feedbackUrl, nowSeconds = Math.floor(Date.now() / 1000)) {
  const match = /\/f\/([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\/?(?:[?#].*)?$/.exec(String(feedbackUrl));
  if (!match) return null;
  try {
    const base64 = match[1].replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
    const bytes = Uint8Array.from(binary, (character) => character.charCodeAt(0));
    const data = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    if (!isObject(data) || data.v !== 1 || typeof data.exp !== "number") return null;
    return {
      exp: data.exp,
      keyId: String(data.k),
      projectId: String(data.p),
      turnId: String(data.t),
      userId: data.u === undefined || data.u === null ? "" : String(data.u),
      expired: data.exp <= nowSeconds,
    };
  } catch {
    return null;
  }
}
