/**
 * Offline experiments over the key routes (`/api/v1/experiments…`): run your function on every
 * case of a pinned dataset version, upload outputs and scores in batches, read the summary.
 *
 *   const exp = await loop.runExperiment("Refund failures", {
 *     version: 3, task: async (c) => answer(c.input), prompt: ["support-agent", 3],
 *     scorers: [{ name: "exact", kind: "exact_match" }], concurrency: 8,
 *   });
 *   exp.summary.exact.pass_rate;  await loop.experiment(exp.id);
 *
 * `task(case)` returns the output string or `{ output, scores }`; a task that throws is that
 * case's `error` (a rerun retries it). At most `concurrency` calls run at once. Resumable: pass
 * `experimentId` of an interrupted run and the uploaded cases are skipped (an interrupted run's
 * error carries `experimentId`). Progress goes to stderr unless `progress: false`. The scorers
 * run on the server's worker; the call waits up to `wait` ms for them.
 */

import { dataset as datasetGet, request } from "./datasets.js";

export const BATCH_SIZE = 100;

/** @param {any} connection @param {number} id */
export function experiment(connection, id) {
  return request(connection, "GET", `/api/v1/experiments/${Number(id)}`);
}

function item(caseId, answer) {
  if (answer && typeof answer === "object") {
    const out = { case_id: caseId, output: String(answer.output ?? "") };
    if (answer.scores && Object.keys(answer.scores).length) out.scores = answer.scores;
    return out;
  }
  return { case_id: caseId, output: answer == null ? "" : String(answer) };
}

/**
 * @param {any} connection
 * @param {string} name the dataset's name
 * @param {{ task: (c: any) => any, version?: number, prompt?: [string, number] | { name: string, version: number },
 *   scorers?: object[], concurrency?: number, experimentId?: number, name?: string, batchSize?: number,
 *   progress?: boolean, wait?: number }} options
 */
export async function runExperiment(connection, name, options) {
  const { task, concurrency = 8, batchSize = BATCH_SIZE, progress = true, wait = 60000 } = options || {};
  if (typeof task !== "function") throw new TypeError("runExperiment needs a task function");
  const pinned = await datasetGet(connection, name, options.version ? { version: options.version } : {});
  let id = options.experimentId;
  let done = new Set();
  if (id == null) {
    const body = { name: options.name || `${name} v${pinned.version}`, dataset: name, dataset_version: pinned.version };
    if (options.prompt) {
      body.prompt = Array.isArray(options.prompt) ? { name: options.prompt[0], version: Number(options.prompt[1]) } : options.prompt;
    }
    if (options.scorers && options.scorers.length) body.scorers = options.scorers;
    id = (await request(connection, "POST", "/api/v1/experiments", body)).id;
  } else {
    done = new Set((await request(connection, "GET", `/api/v1/experiments/${Number(id)}/results`)).case_ids);
  }
  const cases = [];
  for await (const c of pinned) if (!done.has(c.id)) cases.push(c);
  const total = cases.length + done.size;
  let finished = done.size;
  const pending = [];
  const flush = async () => {
    if (!pending.length) return;
    const batch = pending.splice(0, pending.length);
    await request(connection, "POST", `/api/v1/experiments/${Number(id)}/results`, { results: batch });
  };
  let next = 0;
  let failure = null;
  const worker = async () => {
    while (next < cases.length && failure === null) {
      const c = cases[next++];
      let result;
      try {
        result = item(c.id, await task(c));
      } catch (error) {
        if (error && error.interrupt) { failure = error; return; }
        result = { case_id: c.id, output: "", error: String(error && error.message ? error.message : error).slice(0, 2000) };
      }
      pending.push(result);
      finished += 1;
      if (progress) process.stderr.write(`\rexperiment: ${finished}/${total} cases`);
      if (pending.length >= batchSize) await flush();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Number(concurrency) || 1) }, worker));
  await flush();
  if (progress) process.stderr.write("\n");
  if (failure !== null) {
    failure.experimentId = id;
    throw failure;
  }
  const deadline = Date.now() + Math.max(0, wait);
  let current = await experiment(connection, id);
  while ((current.status !== "done" && current.status !== "failed") || current.cases_done < current.results_count) {
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
    current = await experiment(connection, id);
  }
  return current;
}
