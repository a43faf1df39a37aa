/**
 * Validations over the key routes: start one (the pinned body) and wait for its verdict.
 *
 *   const report = await loop.validate({ kind: "offline", baseline: 41, candidate: 42 });
 *   report.verdict; // "ship" | "hold" | "inconclusive" | "running"
 *   await loop.validation(report.id);
 */

import { request } from "./datasets.js";

/** @param {import("./datasets.js").Connection} connection @param {number} id */
export function validation(connection, id) {
  return request(connection, "GET", `/api/v1/validations/${Number(id)}`);
}

function unfinished(report) {
  return report.status === "pending" || (report.status === "running" && report.verdict !== "running");
}

/**
 * POST the body, then poll until the job is finished, an online test is `running` toward its
 * horizon, or `timeoutMs` passes (`wait: false` returns at once).
 * @param {import("./datasets.js").Connection} connection @param {Record<string, any>} body
 * @param {{ wait?: boolean, timeoutMs?: number, pollMs?: number }} [options]
 */
export async function validate(connection, body, options = {}) {
  const { wait = true, timeoutMs = 600_000, pollMs = 2000 } = options;
  const started = await request(connection, "POST", "/api/v1/validations", body);
  let report = await validation(connection, started.id);
  const deadline = Date.now() + timeoutMs;
  while (wait && unfinished(report) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    report = await validation(connection, started.id);
  }
  return report;
}
