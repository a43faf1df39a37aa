// Shared test helpers (no tests here): a real node:http server that records what the SDK sends.

import { createServer } from "node:http";
import { gunzipSync } from "node:zlib";

export const API_KEY = "al_sk_a1b2c3d4e5f6_s3cr3t-Value_0123456789abcdefghijklmnopq";
export const KEY_ID = "a1b2c3d4e5f6";
export const PROJECT_ID = "2b1f1c54-3f0e-4c8e-9a51-8d9a4c6b2e10";
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * @typedef {object} RecordedRequest
 * @property {string} method
 * @property {string} path
 * @property {import("node:http").IncomingHttpHeaders} headers
 * @property {Buffer} raw the body as received (gzip for ingestion)
 * @property {any} json the body decoded (gunzipped when Content-Encoding is gzip) and parsed
 */

/**
 * Start a server on a free local port. `handler(request, recorded)` returns
 * `{ status, headers?, body? }` (body: object → JSON) or `"destroy"` to cut the connection, or
 * `"hang"` never to answer.
 *
 * @param {(recorded: RecordedRequest, index: number) => any} handler
 */
export async function startServer(handler) {
  /** @type {RecordedRequest[]} */
  const requests = [];
  /** @type {Set<import("node:net").Socket>} */
  const sockets = new Set();
  const server = createServer((req, res) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", async () => {
      const raw = Buffer.concat(chunks);
      let json;
      try {
        const text = req.headers["content-encoding"] === "gzip" ? gunzipSync(raw).toString("utf8") : raw.toString("utf8");
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      const recorded = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, raw, json };
      requests.push(recorded);
      const answer = await handler(recorded, requests.length - 1);
      if (answer === "destroy") {
        req.socket.destroy();
        return;
      }
      if (answer === "hang") return;
      const body = answer.body === undefined ? "" : typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status, { "Content-Type": "application/json", ...(answer.headers ?? {}) });
      res.end(body);
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const address = /** @type {import("node:net").AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve(undefined));
      }),
  };
}

/**
 * A 207 answer committing every item of an ingestion batch, with per-item statuses from
 * `statusOf(item, index)` (default 201).
 *
 * @param {any} json the recorded batch
 * @param {(item: any, index: number) => number} [statusOf]
 */
export function multiStatus(json, statusOf = () => 201) {
  return {
    status: 207,
    body: {
      results: json.batch.map((/** @type {any} */ item, /** @type {number} */ index) => {
        const status = statusOf(item, index);
        return status < 400
          ? { index, type: item.type, id: item.id, status }
          : { index, type: item.type, id: item.id, status, code: "invalid", message: "bad item", field: "question" };
      }),
    },
  };
}

/**
 * An ingestion server that answers `script[i]` to the i-th request and a committing 207 after
 * the script runs out; `committed` lists the ids the server stored, in order, once per commit.
 *
 * @param {any[]} [script] entries as for startServer, or functions of the recorded request
 * @param {(item: any, index: number) => number} [statusOf]
 */
export async function ingestServer(script = [], statusOf) {
  /** @type {string[]} */
  const committed = [];
  const server = await startServer((recorded, index) => {
    const scripted = script[index];
    const answer = typeof scripted === "function" ? scripted(recorded) : scripted;
    if (answer !== undefined) return answer;
    const response = multiStatus(recorded.json, statusOf);
    for (const result of response.body.results) if (result.status < 400) committed.push(result.id);
    return response;
  });
  return { ...server, committed };
}

/** The ids of every item the SDK sent, across requests (retries included). */
export function sentIds(/** @type {RecordedRequest[]} */ requests) {
  return requests.flatMap((request) => (request.json?.batch ?? []).map((/** @type {any} */ item) => item.id));
}

/** A port nothing listens on (bound, then released). */
export async function closedPort() {
  const server = await startServer(() => ({ status: 200 }));
  await server.close();
  return server.url;
}

/** Collects what the SDK reports. */
export function errorSink() {
  /** @type {import("../index.js").AgentLoopError[]} */
  const errors = [];
  return { errors, onError: (/** @type {any} */ error) => errors.push(error), codes: () => errors.map((error) => error.code) };
}

/** Options for fast tests: quick retries, no background timer in the way. */
export const FAST = Object.freeze({ retryBaseDelay: 5, retryMaxDelay: 20, flushInterval: 60000 });
