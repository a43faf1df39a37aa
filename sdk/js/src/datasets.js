/**
 * Eval datasets over the key routes (`/api/v1/datasets…`): read a version's cases, add cases.
 * Unlike logging these calls are explicit and awaited (CI jobs, eval scripts), so a failure
 * rejects with an `AgentLoopError` carrying the server's stable `code` and the HTTP `status`.
 *
 *   const ds = await loop.dataset("Refund failures");          // latest; { version: 3 } pins one
 *   for await (const c of ds) { c.input; c.expected_output; c.lineage.turn_id; }
 *   await loop.addCases("Refund failures", [{ turn_id, split: "regression" }], { message: "from CI" });
 */

import { AgentLoopError } from "./errors.js";
import { authHeaders } from "./transport.js";

export const PAGE_SIZE = 200;

/** @typedef {{ host: string, apiKey: string, fetch: typeof fetch, timeout: number }} Connection */

/**
 * @param {Connection} connection
 * @param {string} method
 * @param {string} path a path or a full URL (a page's `next`)
 * @param {unknown} [body]
 */
export async function request(connection, method, path, body) {
  if (!connection.apiKey || !connection.host || typeof connection.fetch !== "function") {
    throw new AgentLoopError("invalid_argument", "The client has no usable API key, host or fetch.");
  }
  const headers = authHeaders(connection.apiKey);
  const init = { method, headers, signal: AbortSignal.timeout(connection.timeout) };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const url = /^https?:\/\//.test(path) ? path : connection.host + path;
  let response;
  try {
    response = await connection.fetch(url, init);
  } catch (cause) {
    throw new AgentLoopError("network_error", `AgentLoop could not reach ${connection.host}: ${cause}`, { cause });
  }
  const text = await response.text();
  let payload = null;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch {
    payload = null;
  }
  if (response.status >= 400) {
    const code = payload && typeof payload.code === "string" ? payload.code : "http_error";
    const message = payload && typeof payload.message === "string" ? payload.message : `HTTP ${response.status}`;
    throw new AgentLoopError(code, message, { status: response.status, field: payload ? payload.field : undefined });
  }
  return payload;
}

const named = (name) => encodeURIComponent(String(name));

/** One version of a dataset; `for await (const c of dataset)` yields its cases page by page. */
export class Dataset {
  /** @param {Connection} connection @param {any} info @param {number | null} version @param {number} pageSize */
  constructor(connection, info, version, pageSize) {
    Object.defineProperty(this, "_connection", { value: connection, enumerable: false });
    this.name = info.name;
    this.description = info.description ?? "";
    this.latestVersion = info.latest_version ?? null;
    this.version = version ?? this.latestVersion;
    const pinned = (info.versions ?? []).find((entry) => entry.number === this.version);
    this.casesCount = pinned ? pinned.cases_count : this.version === this.latestVersion ? info.cases_count : 0;
    this.pageSize = pageSize;
  }

  async *[Symbol.asyncIterator]() {
    if (this.version == null) return;
    let url = `/api/v1/datasets/${named(this.name)}/versions/${this.version}/cases?limit=${this.pageSize}`;
    while (url) {
      const page = await request(this._connection, "GET", url);
      yield* page.results;
      url = page.next;
    }
  }

  /** Every case of the version, as one array. */
  async cases() {
    const all = [];
    for await (const item of this) all.push(item);
    return all;
  }
}

/**
 * @param {Connection} connection
 * @param {string} name
 * @param {{ version?: number, pageSize?: number }} [options]
 */
export async function dataset(connection, name, options = {}) {
  const info = await request(connection, "GET", `/api/v1/datasets/${named(name)}`);
  const version = options.version ?? null;
  if (version != null && !(info.versions ?? []).some((entry) => entry.number === version)) {
    await request(connection, "GET", `/api/v1/datasets/${named(name)}/versions/${Number(version)}/cases?limit=1`);
  }
  return new Dataset(connection, info, version, options.pageSize ?? PAGE_SIZE);
}

/**
 * Add cases (`{input, expected_output, …}` or `{turn_id, split?, tags?}`) as one new version.
 * @param {Connection} connection
 * @param {string} name
 * @param {object[]} cases
 * @param {{ message?: string }} [options]
 * @returns {Promise<{version: number | null, added: number, rejected: number, results: object[]}>}
 */
export async function addCases(connection, name, cases, options = {}) {
  const body = { cases: Array.from(cases ?? []) };
  if (options.message) body.message = options.message;
  return request(connection, "POST", `/api/v1/datasets/${named(name)}/cases`, body);
}

/** @param {Connection} connection @param {string} name @param {string} [description] */
export async function createDataset(connection, name, description = "") {
  return request(connection, "POST", "/api/v1/datasets", { name, description });
}
