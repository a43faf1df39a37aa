/**
 * The AgentLoop client: `logTurn`, `feedback` and `signal` queue items synchronously and never
 * throw; a single background sender posts them in batches to `{host}/api/v1/ingest`, retrying
 * with backoff (DESIGN.md "SDK contract", "HTTP contract").
 *
 * Delivery is at least once and idempotent by item id: a retried batch carries the same ids, so
 * the server stores each turn once. Items are sent in the order they were logged, one request at
 * a time, so feedback for a turn never overtakes the turn.
 */

import * as datasets from "./datasets.js";
import * as experiments from "./experiments.js";
import * as validations from "./validations.js";
import { randomUUID } from "node:crypto";

import { AgentLoopError, Reporter } from "./errors.js";
import { deriveSigningKey, encodeFeedbackPayload, normalizeHost, parseApiKey, signFeedbackPayload } from "./signing.js";
import { MAX_RETRY_AFTER_MS, authHeaders, describeNetworkError, postBatch } from "./transport.js";
import { DEFAULT_PROMPT_TTL_MS, PromptCache } from "./prompts.js";
import { feedbackBody, jsonReplacer, optionalString, signalBody, turnBody } from "./wire.js";

/** @typedef {import("./wire.js").TurnInput} TurnInput */
/** @typedef {import("./transport.js").QueuedItem} QueuedItem */

/**
 * @typedef {object} AgentLoopOptions
 * @property {string} [apiKey] secret key `al_sk_<key id>_<secret>`; defaults to env AGENTLOOP_API_KEY
 * @property {string} [host] e.g. `https://agentloop.example.com`; defaults to env AGENTLOOP_HOST
 * @property {string} [projectId] saves the one `GET /api/v1/auth/check` that feedback URLs need
 * @property {number} [flushInterval] ms between background sends (1000)
 * @property {number} [maxBatch] items per request (500)
 * @property {number} [maxQueue] items waiting to be sent; past it new items are dropped (10000)
 * @property {number} [timeout] ms for one HTTP request (10000)
 * @property {number} [maxRetries] retries of one batch before it is dropped (8)
 * @property {number} [feedbackLinkTtl] seconds a feedback URL stays valid (30 days)
 * @property {boolean} [enabled] false: log nothing, send nothing (tests, local runs)
 * @property {(error: AgentLoopError) => unknown} [onError] receives every failure; without it each
 *   failure code is warned once on the console
 * @property {number} [retryBaseDelay] ms, first backoff ceiling, doubled per retry (500)
 * @property {number} [retryMaxDelay] ms, backoff ceiling (30000)
 * @property {typeof fetch} [fetch] a fetch implementation (defaults to the global one)
 */

/**
 * @typedef {object} FeedbackInput
 * @property {"up" | "down" | 1 | 2 | 3 | 4 | 5} [rating]
 * @property {string} [comment]
 * @property {string} [correction] what the answer should have been
 * @property {Record<string, unknown>} [signals]
 * @property {string} [userId]
 * @property {string} [id] a UUID; a random one when absent (the idempotency key)
 */

/**
 * @typedef {object} Stats
 * @property {number} queued items logged and not yet settled (waiting or in flight)
 * @property {number} sent items the server committed
 * @property {number} dropped items given up without a server verdict: queue full, retries
 *   exhausted, logged after shutdown or without a usable key/host
 * @property {number} retries request retries performed
 * @property {number} failed items the server refused for good (a 4xx for the item or the
 *   request), plus items that could not be serialized
 */

const DEFAULTS = Object.freeze({
  flushInterval: 1000,
  maxBatch: 500,
  maxQueue: 10000,
  timeout: 10000,
  maxRetries: 8,
  feedbackLinkTtl: 30 * 86400,
  retryBaseDelay: 500,
  retryMaxDelay: 30000,
});

/** How long the SDK keeps a naturally exiting Node process alive to deliver what is queued. */
export const EXIT_FLUSH_TIMEOUT_MS = 10000;

const RATINGS = new Set(["up", "down", 1, 2, 3, 4, 5]);
const EXIT_FLUSH = Symbol("agentloop.exitFlush");

/** @type {Set<AgentLoop>} clients with work to deliver when the process is about to exit */
const exitClients = new Set();
let exitHookInstalled = false;

function onBeforeExit() {
  for (const client of exitClients) client[EXIT_FLUSH]();
}

/** @param {AgentLoop} client */
function registerForExit(client) {
  if (typeof process === "undefined" || typeof process.on !== "function") return;
  exitClients.add(client);
  if (!exitHookInstalled) {
    process.on("beforeExit", onBeforeExit);
    exitHookInstalled = true;
  }
}

/** @param {AgentLoop} client */
function unregisterForExit(client) {
  exitClients.delete(client);
  if (exitHookInstalled && exitClients.size === 0 && typeof process !== "undefined") {
    process.removeListener("beforeExit", onBeforeExit);
    exitHookInstalled = false;
  }
}

/**
 * @param {unknown} value
 * @param {number} fallback
 * @param {number} minimum
 * @returns {number}
 */
function numberOption(value, fallback, minimum) {
  const number = typeof value === "number" ? value : typeof value === "string" && value !== "" ? Number(value) : NaN;
  return Number.isFinite(number) && number >= minimum ? number : fallback;
}

/**
 * A timer that does not keep the Node process alive.
 *
 * @param {() => void} callback
 * @param {number} ms
 */
function unrefTimeout(callback, ms) {
  const timer = setTimeout(callback, ms);
  if (typeof timer === "object" && timer && typeof timer.unref === "function") timer.unref();
  return timer;
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => {
    unrefTimeout(() => resolve(undefined), ms);
  });
}

function env(/** @type {string} */ name) {
  return typeof process !== "undefined" && process.env ? process.env[name] : undefined;
}

/**
 * A logged turn: its id, and the signed URL through which its end user can leave feedback.
 */
export class Turn {
  /** @type {AgentLoop} */
  #client;

  /**
   * @param {AgentLoop} client
   * @param {string} id
   * @param {string} userId
   */
  constructor(client, id, userId) {
    this.#client = client;
    /** @type {string} */
    this.id = id;
    /** @type {string} the end user the turn was logged for ("" when none) */
    this.userId = userId;
  }

  /**
   * The signed no-login feedback URL `{host}/f/{payload}.{signature}` for this turn and user.
   * Resolves to null (and reports why) when it cannot be made; never rejects.
   *
   * @returns {Promise<string | null>}
   */
  feedbackUrl() {
    return this.#client.feedbackUrl(this.id, { userId: this.userId });
  }

  toJSON() {
    return { id: this.id, userId: this.userId };
  }
}

export class AgentLoop {
  /** @type {string} */ #apiKey = "";
  /** @type {string} */ #keyId = "";
  /** @type {Buffer | null} */ #signingKey = null;
  /** @type {string} */ #host = "";
  /** @type {string | undefined} */ #projectId;
  /** @type {Promise<string | null> | null} */ #projectLookup = null;
  /** @type {boolean} */ #enabled;
  /** @type {boolean} a key and host are present: items can be delivered */
  #usable = false;
  #closed = false;
  #flushInterval;
  #maxBatch;
  #maxQueue;
  #timeout;
  #maxRetries;
  #feedbackLinkTtl;
  #retryBaseDelay;
  #retryMaxDelay;
  /** @type {typeof fetch} */ #fetch;
  #reporter;

  /** @type {QueuedItem[]} */ #queue = [];
  #inFlight = 0;
  #seq = 0;
  #settledSeq = 0;
  #exitFlushedSeq = 0;
  /** @type {Promise<void> | null} */ #draining = null;
  /** @type {{ target: number, done: (settled: boolean) => void }[]} */ #waiters = [];
  /** @type {ReturnType<typeof setInterval> | null} */ #timer = null;
  #stats = { sent: 0, dropped: 0, retries: 0, failed: 0 };
  /** ms a fetched prompt is served from memory before it is revalidated (src/prompts.js) */
  promptTtl = DEFAULT_PROMPT_TTL_MS;
  #prompts = new PromptCache(() => ({ host: this.#host, apiKey: this.#apiKey, fetch: this.#fetch, timeout: this.#timeout,
    reporter: this.#reporter, ttl: this.promptTtl }));

  /**
   * Never throws: a missing or malformed key or host is reported, and the client then accepts
   * calls and counts what it logs as dropped.
   *
   * @param {AgentLoopOptions} [options]
   */
  constructor(options = {}) {
    const opts = options && typeof options === "object" ? options : {};
    this.#reporter = new Reporter(opts.onError);
    this.#enabled = opts.enabled !== false;
    this.#flushInterval = numberOption(opts.flushInterval, DEFAULTS.flushInterval, 1);
    this.#maxBatch = Math.floor(numberOption(opts.maxBatch, DEFAULTS.maxBatch, 1));
    this.#maxQueue = Math.floor(numberOption(opts.maxQueue, DEFAULTS.maxQueue, 1));
    this.#timeout = numberOption(opts.timeout, DEFAULTS.timeout, 1);
    this.#maxRetries = Math.floor(numberOption(opts.maxRetries, DEFAULTS.maxRetries, 0));
    this.#feedbackLinkTtl = Math.floor(numberOption(opts.feedbackLinkTtl, DEFAULTS.feedbackLinkTtl, 1));
    this.#retryBaseDelay = numberOption(opts.retryBaseDelay, DEFAULTS.retryBaseDelay, 0);
    this.#retryMaxDelay = numberOption(opts.retryMaxDelay, DEFAULTS.retryMaxDelay, 0);
    this.#fetch = typeof opts.fetch === "function" ? opts.fetch : globalThis.fetch;
    this.promptTtl = numberOption(opts.promptTtl, DEFAULT_PROMPT_TTL_MS, 0);
    const projectId = optionalString(opts.projectId);
    this.#projectId = projectId === "" ? undefined : projectId;

    this.#configureKey(opts.apiKey ?? env("AGENTLOOP_API_KEY"));
    this.#configureHost(opts.host ?? env("AGENTLOOP_HOST"));
    if (typeof this.#fetch !== "function") {
      this.#report("missing_fetch", "No global fetch: AgentLoop needs Node 18+ or a `fetch` option; nothing will be sent.");
    }
    this.#usable = this.#apiKey !== "" && this.#host !== "" && typeof this.#fetch === "function";

    if (this.#enabled && this.#usable) {
      this.#timer = setInterval(() => {
        if (this.#queue.length > 0) this.#kick();
      }, this.#flushInterval);
      if (typeof this.#timer === "object" && this.#timer && typeof this.#timer.unref === "function") this.#timer.unref();
      registerForExit(this);
    }
  }

  /** @param {unknown} apiKey */
  #configureKey(apiKey) {
    if (typeof apiKey !== "string" || apiKey.trim() === "") {
      if (this.#enabled) this.#report("invalid_api_key", "No AgentLoop API key: pass `apiKey` or set AGENTLOOP_API_KEY; nothing will be sent.");
      return;
    }
    const key = apiKey.trim();
    try {
      this.#keyId = parseApiKey(key).keyId;
    } catch (error) {
      if (this.#enabled) this.#report("invalid_api_key", `${/** @type {Error} */ (error).message} Nothing will be sent.`);
      return;
    }
    this.#apiKey = key;
    this.#signingKey = deriveSigningKey(key);
  }

  /** @param {unknown} host */
  #configureHost(host) {
    const text = typeof host === "string" ? normalizeHost(host.trim()) : "";
    if (!/^https?:\/\/[^/]/i.test(text)) {
      if (this.#enabled) this.#report("missing_host", "No AgentLoop host: pass `host` (http:// or https://) or set AGENTLOOP_HOST; nothing will be sent.");
      return;
    }
    this.#host = text;
  }

  /** Counters since the client was made; `queued` is the current backlog. @returns {Stats} */
  get stats() {
    return { queued: this.#queue.length + this.#inFlight, ...this.#stats };
  }

  /**
   * Log one agent turn. Synchronous and never throws; the turn is sent in the background.
   *
   * @param {TurnInput} [turn]
   * @returns {Turn}
   */
  logTurn(turn = {}) {
    const input = /** @type {TurnInput & Record<string, any>} */ (turn && typeof turn === "object" ? turn : {});
    let id = "";
    let userId = "";
    try {
      id = optionalString(input.id) || randomUUID();
      userId = optionalString(input.userId ?? input.user_id) ?? "";
      const now = new Date();
      this.#enqueue("turn", id, () => turnBody(input, id, now));
    } catch (error) {
      id = id || randomUUID();
      this.#report("internal_error", `logTurn failed: ${describe(error)}`, { cause: error });
    }
    return new Turn(this, id, userId);
  }

  /**
   * `logTurn` when `condition` is truthy; otherwise nothing is logged.
   *
   * @param {unknown} condition
   * @param {TurnInput} [turn]
   * @returns {Turn | null}
   */
  /** The prompt version `label` (default "production") or `version` names, cached (src/prompts.js). Rejects on failure. */
  prompt(name, options) {
    return this.#prompts.get(name, options);
  }

  logTurnIf(condition, turn = {}) {
    return condition ? this.logTurn(turn) : null;
  }

  /**
   * Record end-user or backend feedback on a turn (which may not have arrived yet).
   * Synchronous and never throws.
   *
   * @param {string} turnId
   * @param {FeedbackInput} [feedback]
   * @returns {string | null} the feedback id, or null when it was not accepted
   */
  feedback(turnId, feedback = {}) {
    try {
      const input = /** @type {FeedbackInput & Record<string, any>} */ (feedback && typeof feedback === "object" ? feedback : {});
      const turn = optionalString(turnId);
      if (!turn) {
        this.#report("invalid_argument", "feedback() needs the id of the turn it is about.");
        return null;
      }
      if (input.rating !== undefined && input.rating !== null && !RATINGS.has(/** @type {any} */ (input.rating))) {
        this.#report("invalid_argument", "feedback rating is \"up\", \"down\" or an integer from 1 to 5.", { field: "rating" });
        return null;
      }
      const id = optionalString(input.id) || randomUUID();
      return this.#enqueue("feedback", id, () => feedbackBody(turn, id, input)) ? id : null;
    } catch (error) {
      this.#report("internal_error", `feedback failed: ${describe(error)}`, { cause: error });
      return null;
    }
  }

  /**
   * Attach a signal (`thumbs_down`, `escalation`, a custom name, …) to a turn. Repeats with the
   * same non-empty `dedupeKey` are stored once. Synchronous and never throws.
   *
   * @param {string} turnId
   * @param {string} kind
   * @param {unknown} [value]
   * @param {string} [dedupeKey]
   * @returns {boolean} whether the signal was queued
   */
  signal(turnId, kind, value = true, dedupeKey = "") {
    try {
      const turn = optionalString(turnId);
      const name = optionalString(kind);
      if (!turn || !name) {
        this.#report("invalid_argument", "signal() needs a turn id and a kind.");
        return false;
      }
      return this.#enqueue("signal", randomUUID(), () => signalBody(turn, name, value, optionalString(dedupeKey) ?? ""));
    } catch (error) {
      this.#report("internal_error", `signal failed: ${describe(error)}`, { cause: error });
      return false;
    }
  }

  /**
   * The signed feedback URL for any turn id. Needs the project id: the `projectId` option, or one
   * `GET {host}/api/v1/auth/check` whose answer is cached. Resolves to null (and reports why)
   * when no URL can be made; never rejects.
   *
   * @param {string} turnId
   * @param {{ userId?: string | null }} [options]
   * @returns {Promise<string | null>}
   */
  async feedbackUrl(turnId, options = {}) {
    try {
      if (!this.#signingKey || !this.#host) {
        this.#report("invalid_api_key", "A feedback URL needs a valid API key and host.");
        return null;
      }
      const turn = optionalString(turnId);
      if (!turn) {
        this.#report("invalid_argument", "feedbackUrl() needs a turn id.");
        return null;
      }
      const projectId = await this.#resolveProjectId();
      if (!projectId) return null;
      const exp = Math.floor(Date.now() / 1000) + this.#feedbackLinkTtl;
      const userId = optionalString(options && options.userId) ?? "";
      const payload = encodeFeedbackPayload({ exp, keyId: this.#keyId, projectId, turnId: turn, userId });
      return `${this.#host}/f/${payload}.${signFeedbackPayload(payload, this.#signingKey)}`;
    } catch (error) {
      this.#report("internal_error", `feedbackUrl failed: ${describe(error)}`, { cause: error });
      return null;
    }
  }

  // Eval datasets (src/datasets.js): awaited calls that reject with an AgentLoopError.
  get #connection() {
    return { host: this.#host, apiKey: this.#apiKey, fetch: this.#fetch, timeout: this.#timeout };
  }

  /** @param {string} name @param {{ version?: number, pageSize?: number }} [options] */
  dataset(name, options) {
    return datasets.dataset(this.#connection, name, options);
  }

  /** @param {string} name @param {object[]} cases @param {{ message?: string }} [options] */
  addCases(name, cases, options) {
    return datasets.addCases(this.#connection, name, cases, options);
  }

  /** @param {string} name @param {string} [description] */
  createDataset(name, description) {
    return datasets.createDataset(this.#connection, name, description);
  }

  // Offline experiments (src/experiments.js): awaited, reject with an AgentLoopError.
  /** @param {string} name the dataset @param {object} options see src/experiments.js */
  runExperiment(name, options) {
    return experiments.runExperiment(this.#connection, name, options);
  }

  /** @param {number} id */
  experiment(id) {
    return experiments.experiment(this.#connection, id);
  }

  /** Validations (src/validations.js). @param {Record<string, any>} body @param {{ wait?: boolean, timeoutMs?: number, pollMs?: number }} [options] */
  validate(body, options) {
    return validations.validate(this.#connection, body, options);
  }

  /** @param {number} id */
  validation(id) {
    return validations.validation(this.#connection, id);
  }

  /**
   * Resolves when every item logged before the call is sent or given up (`true`), or when
   * `timeout` ms pass first (`false`). While it waits it keeps the Node process alive.
   *
   * @param {number} [timeout] milliseconds; no limit by default
   * @returns {Promise<boolean>}
   */
  flush(timeout) {
    const target = this.#seq;
    if (this.#settledSeq >= target) return Promise.resolve(true);
    return new Promise((resolve) => {
      const keepAlive = setInterval(() => {}, 1 << 30);
      /** @type {ReturnType<typeof setTimeout> | undefined} */
      let deadline;
      const waiter = {
        target,
        /** @param {boolean} settled */
        done: (settled) => {
          clearInterval(keepAlive);
          if (deadline !== undefined) clearTimeout(deadline);
          resolve(settled);
        },
      };
      this.#waiters.push(waiter);
      if (typeof timeout === "number" && Number.isFinite(timeout) && timeout >= 0) {
        deadline = setTimeout(() => {
          const index = this.#waiters.indexOf(waiter);
          if (index !== -1) this.#waiters.splice(index, 1);
          waiter.done(false);
        }, timeout);
      }
      this.#kick();
    });
  }

  /**
   * Flush, then stop the background timer. Items logged afterwards are dropped.
   *
   * @param {number} [timeout] milliseconds; no limit by default
   * @returns {Promise<boolean>} whether everything was settled in time
   */
  async shutdown(timeout) {
    this.#closed = true;
    if (this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
    unregisterForExit(this);
    return this.flush(timeout);
  }

  /** Called when Node is about to exit: deliver what was logged since the last exit flush. */
  [EXIT_FLUSH]() {
    if (this.#seq <= this.#exitFlushedSeq || this.#settledSeq >= this.#seq) return;
    this.#exitFlushedSeq = this.#seq;
    this.flush(EXIT_FLUSH_TIMEOUT_MS).catch(() => {});
  }

  /**
   * Serialize and queue one item. The JSON is made now, so later changes to the caller's objects
   * do not leak into what is sent, and a body that cannot be serialized is reported at once.
   *
   * @param {QueuedItem["type"]} type
   * @param {string} id
   * @param {() => Record<string, unknown>} makeBody
   * @returns {boolean} whether the item was queued
   */
  #enqueue(type, id, makeBody) {
    if (!this.#enabled) return false;
    if (this.#closed) {
      this.#stats.dropped += 1;
      this.#report("shutdown", `A ${type} was logged after shutdown() and is dropped.`, { itemType: type, itemId: id, count: 1 });
      return false;
    }
    if (!this.#usable) {
      this.#stats.dropped += 1;
      return false;
    }
    if (this.#queue.length >= this.#maxQueue) {
      this.#stats.dropped += 1;
      this.#report("queue_full", `The send queue is full (${this.#maxQueue} items); a ${type} is dropped.`, { itemType: type, itemId: id, count: 1 });
      return false;
    }
    let json;
    try {
      json = JSON.stringify({ type, id, body: makeBody() }, jsonReplacer);
    } catch (error) {
      this.#stats.failed += 1;
      this.#report("serialization_error", `A ${type} could not be serialized to JSON: ${describe(error)}`, { itemType: type, itemId: id, count: 1, cause: error });
      return false;
    }
    this.#seq += 1;
    this.#queue.push({ type, id, json, seq: this.#seq });
    if (this.#queue.length >= this.#maxBatch) this.#kick();
    return true;
  }

  /** Start the sender unless it runs already. @returns {Promise<void>} */
  #kick() {
    if (this.#draining === null) {
      this.#draining = this.#drain().finally(() => {
        this.#draining = null;
        if (this.#queue.length > 0 && this.#waiters.length > 0) this.#kick();
      });
    }
    return this.#draining;
  }

  async #drain() {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      this.#inFlight = batch.length;
      try {
        await this.#deliver(batch);
      } catch (error) {
        this.#stats.dropped += batch.length;
        this.#report("internal_error", `Sending failed unexpectedly: ${describe(error)}`, { count: batch.length, cause: error });
      }
      this.#inFlight = 0;
      this.#settledSeq = batch[batch.length - 1].seq;
      this.#releaseWaiters();
    }
    this.#settledSeq = this.#seq;
    this.#releaseWaiters();
  }

  #releaseWaiters() {
    const ready = this.#waiters.filter((waiter) => waiter.target <= this.#settledSeq);
    if (ready.length === 0) return;
    this.#waiters = this.#waiters.filter((waiter) => waiter.target > this.#settledSeq);
    for (const waiter of ready) waiter.done(true);
  }

  /**
   * Deliver `items` until each is committed, refused or given up: retries whole requests on
   * network errors, 408, 429 and 5xx (and items a 207 marks 429/5xx), splits on 413.
   *
   * @param {QueuedItem[]} items
   * @returns {Promise<void>}
   */
  async #deliver(items) {
    let pending = items;
    let retries = 0;
    for (;;) {
      const outcome = await postBatch({
        url: `${this.#host}/api/v1/ingest`,
        apiKey: this.#apiKey,
        items: pending,
        timeout: this.#timeout,
        fetch: this.#fetch,
      });
      /** @type {number | undefined} */
      let retryAfterMs;
      let reason = "";
      let status;
      if (outcome.kind === "committed") {
        /** @type {QueuedItem[]} */
        const again = [];
        outcome.results.forEach((result, index) => {
          const item = pending[index];
          if (result.outcome === "sent") {
            this.#stats.sent += 1;
          } else if (result.outcome === "retry") {
            again.push(item);
            reason = result.message || `the server deferred the item (status ${result.status})`;
            status = result.status;
          } else {
            this.#stats.failed += 1;
            this.#report(result.code || "rejected", `The server rejected ${item.type} ${item.id}: ${result.message || "no reason given"}.`, {
              status: result.status, field: result.field, itemType: item.type, itemId: item.id, count: 1,
            });
          }
        });
        if (again.length === 0) return;
        pending = again;
        retryAfterMs = outcome.retryAfterMs;
      } else if (outcome.kind === "split") {
        if (pending.length === 1) {
          this.#stats.failed += 1;
          this.#report("payload_too_large", `The server refused ${pending[0].type} ${pending[0].id} as too large (HTTP 413).`, {
            status: 413, itemType: pending[0].type, itemId: pending[0].id, count: 1,
          });
          return;
        }
        const middle = Math.ceil(pending.length / 2);
        await this.#deliver(pending.slice(0, middle));
        await this.#deliver(pending.slice(middle));
        return;
      } else if (outcome.kind === "rejected") {
        this.#stats.failed += pending.length;
        this.#report(outcome.code, `The server refused a batch of ${pending.length} (HTTP ${outcome.status}): ${outcome.message}`, {
          status: outcome.status, field: outcome.field, count: pending.length,
        });
        return;
      } else {
        retryAfterMs = outcome.retryAfterMs;
        reason = outcome.message;
        status = outcome.status || undefined;
      }
      if (retries >= this.#maxRetries) {
        this.#stats.dropped += pending.length;
        this.#report("retries_exhausted", `Gave up on ${pending.length} item(s) after ${retries} retries: ${reason}`, { status, count: pending.length });
        return;
      }
      retries += 1;
      this.#stats.retries += 1;
      await sleep(this.#backoff(retries, retryAfterMs));
    }
  }

  /**
   * Full-jitter exponential backoff; a server's `Retry-After` (up to 5 minutes) wins.
   *
   * @param {number} retry 1 for the first retry
   * @param {number | undefined} retryAfterMs
   */
  #backoff(retry, retryAfterMs) {
    if (retryAfterMs !== undefined && retryAfterMs <= MAX_RETRY_AFTER_MS) return retryAfterMs;
    const ceiling = Math.min(this.#retryMaxDelay, this.#retryBaseDelay * 2 ** (retry - 1));
    return Math.random() * ceiling;
  }

  /** @returns {Promise<string | null>} */
  #resolveProjectId() {
    if (this.#projectId) return Promise.resolve(this.#projectId);
    if (!this.#enabled) {
      this.#report("project_id_unknown", "With enabled: false a feedback URL needs the `projectId` option (no network calls are made).");
      return Promise.resolve(null);
    }
    if (this.#projectLookup === null) {
      this.#projectLookup = this.#authCheck().then((projectId) => {
        if (projectId) this.#projectId = projectId;
        else this.#projectLookup = null;
        return projectId;
      });
    }
    return this.#projectLookup;
  }

  /** `GET {host}/api/v1/auth/check` → the key's project id, or null (reported). */
  async #authCheck() {
    const url = `${this.#host}/api/v1/auth/check`;
    let response;
    try {
      response = await this.#fetch(url, { method: "GET", headers: authHeaders(this.#apiKey), signal: AbortSignal.timeout(this.#timeout) });
    } catch (error) {
      this.#report("auth_check_failed", `Could not look up the project of the API key: ${describeNetworkError(error, url)}`, { cause: error });
      return null;
    }
    /** @type {any} */
    let data;
    try {
      data = await response.json();
    } catch {
      data = undefined;
    }
    if (!response.ok || !data || data.project === undefined || data.project === null || data.project === "") {
      const code = data && typeof data.code === "string" ? data.code : "auth_check_failed";
      this.#report(code, `Could not look up the project of the API key (HTTP ${response.status})${data && data.message ? `: ${data.message}` : "."}`, { status: response.status });
      return null;
    }
    return String(data.project);
  }

  /**
   * @param {string} code
   * @param {string} message
   * @param {ConstructorParameters<typeof AgentLoopError>[2]} [details]
   */
  #report(code, message, details) {
    this.#reporter.report(new AgentLoopError(code, message, details));
  }
}

/** @param {unknown} error */
function describe(error) {
  return error instanceof Error ? error.message : String(error);
}
