/**
 * Versioned prompts fetched at run time: `await loop.prompt("support-agent", { label: "production" })`.
 *
 * `GET {host}/api/v1/prompts/{name}?label=…` (or `?version=N`) answers the version with a strong
 * `ETag`. Each client keeps what it fetched, per (name, label | version):
 *
 * - fresh (confirmed less than `ttl` ms ago; default `loop.promptTtl` = 60000, option `promptTtl`):
 *   answered from memory, no request;
 * - stale: revalidated with `If-None-Match` (a 304 has no body); concurrent calls for the same
 *   prompt share that one request. A label moved on the server reaches every agent within the TTL;
 * - server unreachable (network error, timeout, 429, 5xx): the last good copy is served (reported
 *   as `prompt_stale`) and retried after 5 s; with no copy the promise rejects with
 *   `AgentLoopError` code `prompt_unavailable`;
 * - the server's refusals reject with its code (`not_found` for a missing prompt, label or version).
 *
 * Unlike logging, `prompt()` rejects on failure: an agent cannot run without its prompt.
 */

import { AgentLoopError } from "./errors.js";
import { authHeaders, describeNetworkError } from "./transport.js";

export const DEFAULT_PROMPT_TTL_MS = 60000;
const RETRY_MS = 5000;
const VARIABLE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** One prompt version as the server answered it. */
export class Prompt {
  /** @param {Record<string, any>} body @param {string} etag */
  constructor(body, etag) {
    this.name = String(body.name);
    this.version = Number(body.version);
    this.labels = Array.isArray(body.labels) ? body.labels : [];
    this.template = String(body.template);
    this.variables = Array.isArray(body.variables) ? body.variables : [];
    this.tools = Array.isArray(body.tools) ? body.tools : [];
    this.settings = body.settings && typeof body.settings === "object" ? body.settings : {};
    this.message = typeof body.message === "string" ? body.message : "";
    this.createdAt = typeof body.created_at === "string" ? body.created_at : "";
    this.etag = etag;
    Object.freeze(this);
  }

  /** What to log as `promptVersion` for turns that used this version: `<name>@<n>`. */
  get reference() {
    return `${this.name}@${this.version}`;
  }

  /**
   * The template with every `{{name}}` replaced by `String(variables[name])`. A missing variable
   * throws `AgentLoopError` code `missing_variables` naming all of them; extra keys are ignored.
   * @param {Record<string, unknown>} [variables]
   */
  render(variables = {}) {
    const names = new Set(this.variables);
    for (const match of this.template.matchAll(VARIABLE)) names.add(match[1]);
    const missing = [...names].filter((name) => !Object.prototype.hasOwnProperty.call(variables, name));
    if (missing.length > 0) {
      throw new AgentLoopError("missing_variables", `${this.reference} needs ${missing.join(", ")}: pass them to render()`);
    }
    return this.template.replace(VARIABLE, (_, name) => String(variables[name]));
  }
}

/**
 * The per-client cache. `connection()` gives what a request needs (host, apiKey, fetch, timeout,
 * reporter, ttl) at call time, so the client's private fields stay private.
 */
export class PromptCache {
  /** @param {() => {host: string, apiKey: string, fetch: typeof fetch, timeout: number, reporter: any, ttl: number}} connection */
  constructor(connection) {
    this.connection = connection;
    /** @type {Map<string, {prompt: Prompt, checkedAt: number, holdUntil: number}>} */
    this.entries = new Map();
    /** @type {Map<string, Promise<Prompt>>} */
    this.pending = new Map();
  }

  /**
   * @param {string} name
   * @param {{label?: string, version?: number, ttl?: number}} [options]
   * @returns {Promise<Prompt>}
   */
  get(name, options = {}) {
    let { label, version } = options;
    if (typeof name !== "string" || name === "") return Promise.reject(new AgentLoopError("invalid_argument", "name is the prompt's name"));
    if (label !== undefined && version !== undefined) {
      return Promise.reject(new AgentLoopError("invalid_argument", "Ask for a label or a version, not both"));
    }
    if (version !== undefined && !(Number.isInteger(version) && version >= 1)) {
      return Promise.reject(new AgentLoopError("invalid_argument", "version is a positive whole number"));
    }
    if (label === undefined && version === undefined) label = "production";
    const key = label !== undefined ? `${name}\u0000l\u0000${label}` : `${name}\u0000v\u0000${version}`;
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      const now = performance.now();
      const ttl = options.ttl ?? this.connection().ttl;
      if (now - entry.checkedAt < ttl || now < entry.holdUntil) return Promise.resolve(entry.prompt);
    }
    let request = this.pending.get(key);
    if (request === undefined) {
      request = this.#refresh(key, name, label, version).finally(() => this.pending.delete(key));
      this.pending.set(key, request);
    }
    return request;
  }

  async #refresh(key, name, label, version) {
    const { host, apiKey, fetch: fetchImpl, timeout, reporter } = this.connection();
    const entry = this.entries.get(key);
    const query = label !== undefined ? `label=${encodeURIComponent(label)}` : `version=${version}`;
    const headers = authHeaders(apiKey);
    if (entry) headers["If-None-Match"] = entry.prompt.etag;
    const what = label !== undefined ? `"${name}" (label "${label}")` : `"${name}" (version ${version})`;
    let response;
    try {
      response = await fetchImpl(`${host}/api/v1/prompts/${encodeURIComponent(name)}?${query}`, {
        method: "GET", headers, signal: AbortSignal.timeout(Math.min(timeout, 10000)),
      });
    } catch (error) {
      return this.#fallback(key, entry, describeNetworkError(error, host), "prompt_unavailable", what, reporter);
    }
    if (response.status === 304 && entry) {
      this.entries.set(key, { prompt: entry.prompt, checkedAt: performance.now(), holdUntil: 0 });
      return entry.prompt;
    }
    if (response.status === 200) {
      let body;
      try {
        body = await response.json();
      } catch (error) {
        return this.#fallback(key, entry, `unreadable answer: ${error}`, "prompt_unavailable", what, reporter);
      }
      const prompt = new Prompt(body, response.headers.get("etag") || "");
      this.entries.set(key, { prompt, checkedAt: performance.now(), holdUntil: 0 });
      return prompt;
    }
    if (response.status === 429 || response.status >= 500 || response.status === 304) {
      return this.#fallback(key, entry, `the server answered ${response.status}`, "prompt_unavailable", what, reporter);
    }
    let code = `http_${response.status}`;
    let message = `HTTP ${response.status}`;
    try {
      const error = await response.json();
      code = error.code || code;
      message = error.message || message;
    } catch {
      // not JSON: keep the status
    }
    throw new AgentLoopError(code, `Prompt ${what}: ${message}`, { status: response.status });
  }

  #fallback(key, entry, reason, code, what, reporter) {
    if (!entry) throw new AgentLoopError(code, `Prompt ${what} is not cached (${reason})`);
    this.entries.set(key, { prompt: entry.prompt, checkedAt: entry.checkedAt, holdUntil: performance.now() + RETRY_MS });
    reporter.report(new AgentLoopError("prompt_stale", `Serving the cached ${entry.prompt.reference}: ${reason}`));
    return entry.prompt;
  }
}
