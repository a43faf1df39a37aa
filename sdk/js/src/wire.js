/**
 * The SDK's camelCase arguments → the server's snake_case ingestion bodies (DESIGN.md "HTTP
 * contract"). Only the SDK's own field names are translated; values the caller owns (`signals`,
 * `metadata`, `history`, `retrieved`, `toolCalls`, step `input`/`output`/`attributes`) are sent
 * exactly as given. Undefined and null fields are left out.
 */

import { randomUUID } from "node:crypto";

/**
 * @typedef {object} StepInput
 * @property {string} [id] span id; a random UUID when absent
 * @property {string} [parentId] id of the parent step
 * @property {"llm" | "tool" | "retrieval" | "other"} [kind]
 * @property {string} [name]
 * @property {Date | string | number} [startedAt] a Date, an ISO 8601 string or epoch milliseconds
 * @property {Date | string | number} [endedAt]
 * @property {unknown} [input]
 * @property {unknown} [output]
 * @property {string | Error} [error]
 * @property {Record<string, unknown>} [attributes]
 */

/**
 * @typedef {object} TurnInput
 * @property {string} [id] a UUID; a random one when absent (the idempotency key)
 * @property {string} [question]
 * @property {string} [agentResponse]
 * @property {string} [userId] the end user
 * @property {string} [sessionId]
 * @property {Record<string, unknown>} [signals] e.g. `{ thumbs_down: true }`
 * @property {unknown[]} [history] prior messages
 * @property {string} [promptVersion]
 * @property {string} [model]
 * @property {unknown[]} [retrieved] retrieved documents
 * @property {unknown[]} [toolCalls]
 * @property {Record<string, unknown>} [metadata]
 * @property {string} [variant] A/B arm
 * @property {Date | string | number} [timestamp] when the turn happened; defaults to the call time
 * @property {StepInput[]} [steps]
 */

/**
 * The first of `values` that is neither undefined nor null.
 *
 * @param {...unknown} values
 * @returns {unknown}
 */
export function firstDefined(...values) {
  for (const value of values) {
    if (value !== undefined && value !== null) return value;
  }
  return undefined;
}

/**
 * An object without its undefined and null entries.
 *
 * @param {Record<string, unknown>} object
 * @returns {Record<string, unknown>}
 */
export function compact(object) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [key, value] of Object.entries(object)) {
    if (value !== undefined && value !== null) out[key] = value;
  }
  return out;
}

/**
 * An id-like value as a string (numbers are accepted and stringified).
 *
 * @param {unknown} value
 * @returns {string | undefined}
 */
export function optionalString(value) {
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? value : String(value);
}

/**
 * A timestamp as an ISO 8601 string: Dates and epoch milliseconds are converted, strings pass
 * through (the server validates them).
 *
 * @param {unknown} value
 * @returns {string | undefined}
 * @throws {TypeError} for an invalid Date or number
 */
export function isoTimestamp(value) {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "string") return value;
  const date = value instanceof Date ? value : typeof value === "number" ? new Date(value) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) {
    throw new TypeError("A timestamp is a Date, an ISO 8601 string or epoch milliseconds.");
  }
  return date.toISOString();
}

/**
 * @param {unknown} error
 * @returns {string | undefined}
 */
function errorText(error) {
  if (error === undefined || error === null) return undefined;
  if (error instanceof Error) return error.message || error.name;
  return typeof error === "string" ? error : String(error);
}

/**
 * @param {StepInput & Record<string, any>} step
 * @returns {Record<string, unknown>}
 */
export function stepBody(step) {
  return compact({
    id: optionalString(firstDefined(step.id, step.span_id)) ?? randomUUID(),
    parent_id: optionalString(firstDefined(step.parentId, step.parent_id)),
    kind: step.kind,
    name: step.name,
    started_at: isoTimestamp(firstDefined(step.startedAt, step.started_at)),
    ended_at: isoTimestamp(firstDefined(step.endedAt, step.ended_at)),
    input: step.input,
    output: step.output,
    error: errorText(step.error),
    attributes: step.attributes,
  });
}

/**
 * The body of a `turn` ingestion item. snake_case spellings are accepted as a fallback so that a
 * payload written for the REST API is not silently emptied.
 *
 * @param {TurnInput & Record<string, any>} turn
 * @param {string} id
 * @param {Date} now used when no timestamp is given
 * @returns {Record<string, unknown>}
 */
export function turnBody(turn, id, now) {
  const steps = firstDefined(turn.steps);
  return compact({
    id,
    question: turn.question,
    agent_response: firstDefined(turn.agentResponse, turn.agent_response),
    user_id: optionalString(firstDefined(turn.userId, turn.user_id)),
    session_id: optionalString(firstDefined(turn.sessionId, turn.session_id)),
    signals: turn.signals,
    history: turn.history,
    prompt_version: optionalString(firstDefined(turn.promptVersion, turn.prompt_version)),
    model: turn.model,
    retrieved: turn.retrieved,
    tool_calls: firstDefined(turn.toolCalls, turn.tool_calls),
    metadata: turn.metadata,
    variant: optionalString(turn.variant),
    timestamp: isoTimestamp(firstDefined(turn.timestamp, now)),
    steps: Array.isArray(steps) ? steps.map((step) => stepBody(step ?? {})) : steps,
  });
}

/**
 * @param {string} turnId
 * @param {string} id
 * @param {{ rating?: unknown, comment?: unknown, correction?: unknown, signals?: unknown, userId?: unknown, user_id?: unknown }} feedback
 * @returns {Record<string, unknown>}
 */
export function feedbackBody(turnId, id, feedback) {
  return compact({
    turn_id: turnId,
    id,
    rating: feedback.rating,
    comment: feedback.comment,
    correction: feedback.correction,
    signals: feedback.signals,
    user_id: optionalString(firstDefined(feedback.userId, feedback.user_id)),
  });
}

/**
 * @param {string} turnId
 * @param {string} kind
 * @param {unknown} value
 * @param {string} dedupeKey
 * @returns {Record<string, unknown>}
 */
export function signalBody(turnId, kind, value, dedupeKey) {
  return compact({ turn_id: turnId, kind, value, dedupe_key: dedupeKey });
}

/**
 * `JSON.stringify` replacer: BigInt becomes a decimal string instead of throwing.
 *
 * @param {string} _key
 * @param {unknown} value
 */
export function jsonReplacer(_key, value) {
  return typeof value === "bigint" ? value.toString() : value;
}
