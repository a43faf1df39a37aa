/**
 * Errors the SDK reports (never throws) from its logging methods, and the one place that
 * hands them to `onError` or to `console.warn`.
 */

/**
 * A failure the SDK handled on the caller's behalf. `code` is stable: either one of the SDK's own
 * (`queue_full`, `network_error`, `retries_exhausted`, `payload_too_large`, `invalid_api_key`,
 * `missing_host`, `invalid_argument`, `serialization_error`, `shutdown`, `auth_check_failed`,
 * `http_error`) or the `code` the server answered with (`invalid`, `invalid_api_key`, …).
 */
export class AgentLoopError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{ status?: number, field?: string | null, itemType?: string, itemId?: string, count?: number, cause?: unknown }} [details]
   */
  constructor(code, message, details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "AgentLoopError";
    /** @type {string} */
    this.code = code;
    /** @type {number | undefined} HTTP status, when the server answered */
    this.status = details.status;
    /** @type {string | null | undefined} the input field at fault, when the server named one */
    this.field = details.field;
    /** @type {string | undefined} "turn" | "feedback" | "signal" | "step", for a per-item rejection */
    this.itemType = details.itemType;
    /** @type {string | undefined} */
    this.itemId = details.itemId;
    /** @type {number} how many items the failure affected */
    this.count = details.count ?? 0;
  }
}

/**
 * Sends every failure to `onError` when given; otherwise warns once per code on the console, so a
 * broken setup is visible without flooding the host application's logs.
 */
export class Reporter {
  /** @param {((error: AgentLoopError) => unknown) | undefined} onError */
  constructor(onError) {
    this.onError = typeof onError === "function" ? onError : undefined;
    /** @type {Set<string>} */
    this.warned = new Set();
  }

  /** @param {AgentLoopError} error */
  report(error) {
    if (this.onError) {
      try {
        const result = this.onError(error);
        if (result && typeof (/** @type {any} */ (result).then) === "function") {
          /** @type {Promise<unknown>} */ (result).then(undefined, () => {});
        }
      } catch {
        // A throwing handler must not break the caller either.
      }
      return;
    }
    if (this.warned.has(error.code)) return;
    this.warned.add(error.code);
    try {
      console.warn(`[agentloop] ${error.message} (${error.code}); further "${error.code}" failures are not logged.`);
    } catch {
      // console may be unavailable or patched; nothing else to do.
    }
  }
}
