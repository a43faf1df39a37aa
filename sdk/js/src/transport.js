/**
 * One POST of a batch to `{host}/api/v1/ingest`, and the classification of its answer into what
 * the sender does next (DESIGN.md "HTTP contract"): a 2xx means committed; per-item 4xx results
 * are permanent rejections; 413 splits the batch; 408, 429, 5xx and network errors are retried
 * (honouring `Retry-After`); any other status is a permanent failure of the whole request.
 */

import { gzip as gzipCallback } from "node:zlib";
import { promisify } from "node:util";
import { Buffer } from "node:buffer";

import { VERSION } from "./version.js";

const gzip = promisify(gzipCallback);

/** A server-asked wait is honoured up to this long; past it the ordinary backoff applies. */
export const MAX_RETRY_AFTER_MS = 5 * 60 * 1000;

/**
 * @typedef {object} QueuedItem
 * @property {"turn" | "feedback" | "signal" | "step"} type
 * @property {string} id
 * @property {string} json the item serialized when it was queued: `{"type","id","body"}`
 * @property {number} seq position in the client's queue, for flush()
 */

/**
 * @typedef {object} ItemResult
 * @property {"sent" | "rejected" | "retry"} outcome
 * @property {string} [code]
 * @property {string} [message]
 * @property {string | null} [field]
 * @property {number} [status]
 */

/**
 * @typedef {{ kind: "committed", results: ItemResult[], retryAfterMs?: number }
 *   | { kind: "retry", status: number, code: string, message: string, retryAfterMs?: number }
 *   | { kind: "split" }
 *   | { kind: "rejected", status: number, code: string, message: string, field?: string | null }} PostOutcome
 */

/**
 * The standard request headers of every SDK call.
 *
 * @param {string} apiKey
 * @returns {Record<string, string>}
 */
export function authHeaders(apiKey) {
  return {
    Authorization: `Bearer ${apiKey}`,
    "User-Agent": `agentloop-js/${VERSION}`,
    Accept: "application/json",
  };
}

/**
 * `Retry-After` (delta seconds or an HTTP date) in milliseconds, or undefined.
 *
 * @param {string | null} header
 * @param {number} [nowMs]
 * @returns {number | undefined}
 */
export function parseRetryAfter(header, nowMs = Date.now()) {
  if (header === null || header === undefined) return undefined;
  const text = String(header).trim();
  if (text === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/**
 * @param {unknown} value
 * @returns {value is Record<string, any>}
 */
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * @param {string} text
 * @returns {unknown}
 */
function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const REJECTED_WORDS = new Set(["error", "rejected", "invalid", "failed"]);

/**
 * One entry of a 207 answer → what happens to its item. A numeric `status` is an HTTP status
 * (429 and 5xx are retried, other 4xx are final); a word status is accepted for robustness.
 *
 * @param {unknown} result
 * @returns {ItemResult}
 */
export function classifyItemResult(result) {
  if (!isObject(result)) return { outcome: "sent" };
  const details = {
    code: typeof result.code === "string" ? result.code : undefined,
    message: typeof result.message === "string" ? result.message : undefined,
    field: typeof result.field === "string" ? result.field : undefined,
  };
  const status = result.status;
  if (typeof status === "number") {
    if (status < 400) return { outcome: "sent", status };
    if (status === 429 || status >= 500) return { outcome: "retry", status, ...details };
    return { outcome: "rejected", status, ...details };
  }
  if (typeof status === "string" && REJECTED_WORDS.has(status.toLowerCase())) {
    return { outcome: "rejected", ...details };
  }
  return { outcome: "sent" };
}

/**
 * The results of a 2xx answer, one per item, matched by `index` (else by `id`); an item the
 * server did not mention counts as committed, since the whole request was acknowledged.
 *
 * @param {QueuedItem[]} items
 * @param {unknown} data
 * @returns {ItemResult[]}
 */
export function matchResults(items, data) {
  const results = isObject(data) && Array.isArray(data.results) ? data.results : [];
  /** @type {Map<number, unknown>} */
  const byIndex = new Map();
  /** @type {Map<string, unknown>} */
  const byId = new Map();
  for (const result of results) {
    if (!isObject(result)) continue;
    if (Number.isInteger(result.index)) byIndex.set(result.index, result);
    else if (result.id !== undefined && result.id !== null) byId.set(String(result.id), result);
  }
  return items.map((item, index) => classifyItemResult(byIndex.get(index) ?? byId.get(item.id)));
}

/**
 * POST `items` as one gzip-compressed batch and classify the answer. Never rejects.
 *
 * @param {object} options
 * @param {string} options.url `{host}/api/v1/ingest`
 * @param {string} options.apiKey
 * @param {QueuedItem[]} options.items
 * @param {number} options.timeout milliseconds for the whole request
 * @param {typeof fetch} options.fetch
 * @returns {Promise<PostOutcome>}
 */
export async function postBatch({ url, apiKey, items, timeout, fetch }) {
  const json = "{\"batch\":[" + items.map((item) => item.json).join(",") + "]}";
  /** @type {Response} */
  let response;
  let text = "";
  try {
    const body = await gzip(Buffer.from(json, "utf8"));
    response = await fetch(url, {
      method: "POST",
      headers: { ...authHeaders(apiKey), "Content-Type": "application/json", "Content-Encoding": "gzip" },
      body,
      signal: AbortSignal.timeout(timeout),
    });
  } catch (error) {
    return { kind: "retry", status: 0, code: "network_error", message: describeNetworkError(error, url) };
  }
  const status = response.status;
  try {
    text = await response.text();
  } catch {
    // The status line arrived; a body cut short changes nothing below for a 2xx, and the
    // error details are only informative otherwise.
  }
  const data = parseJson(text);
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
  if (status >= 200 && status < 300) {
    return { kind: "committed", results: matchResults(items, data), retryAfterMs };
  }
  const code = isObject(data) && typeof data.code === "string" ? data.code : `http_${status}`;
  const message = isObject(data) && typeof data.message === "string" ? data.message : `The server answered HTTP ${status}.`;
  if (status === 413) return { kind: "split" };
  if (status === 408 || status === 429 || status >= 500) return { kind: "retry", status, code, message, retryAfterMs };
  return { kind: "rejected", status, code, message, field: isObject(data) ? data.field : undefined };
}

/**
 * @param {unknown} error
 * @param {string} url
 * @returns {string}
 */
export function describeNetworkError(error, url) {
  const err = /** @type {any} */ (error);
  if (err && (err.name === "TimeoutError" || err.name === "AbortError")) return `Request to ${url} timed out.`;
  const cause = err && err.cause && (err.cause.code || err.cause.message);
  const reason = cause || (err && err.message) || String(error);
  return `Could not reach ${url}: ${reason}.`;
}
