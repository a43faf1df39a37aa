// Type declarations for `agentloop` (hand-written; the source carries the same JSDoc types).

export declare const VERSION: string;

/** How long (ms) a naturally exiting Node process is kept alive to deliver what is queued. */
export declare const EXIT_FLUSH_TIMEOUT_MS: number;

/** The part of `fetch` the SDK uses; the global `fetch` fits it. */
export type FetchLike = (url: string, init?: any) => Promise<{
  status: number;
  ok: boolean;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
  json(): Promise<any>;
}>;

export type StepKind = "llm" | "tool" | "retrieval" | "other";

/** A timestamp: a Date, an ISO 8601 string or epoch milliseconds. */
export type Timestamp = Date | string | number;

export interface StepInput {
  /** Span id; a random UUID when absent. */
  id?: string;
  parentId?: string;
  kind?: StepKind;
  name?: string;
  startedAt?: Timestamp;
  endedAt?: Timestamp;
  input?: unknown;
  output?: unknown;
  /** An Error is sent as its message. */
  error?: string | Error;
  attributes?: Record<string, unknown>;
}

export interface TurnInput {
  /** A UUID; a random one when absent. It is the idempotency key. */
  id?: string;
  question?: string;
  agentResponse?: string;
  /** The end user. */
  userId?: string;
  sessionId?: string;
  /** Signals by kind, e.g. `{ thumbs_down: true }`. Sent as given. */
  signals?: Record<string, unknown>;
  /** Prior messages. */
  history?: unknown[];
  promptVersion?: string;
  model?: string;
  /** Retrieved documents. */
  retrieved?: unknown[];
  toolCalls?: unknown[];
  metadata?: Record<string, unknown>;
  /** A/B arm. */
  variant?: string;
  /** When the turn happened; defaults to the time of the `logTurn` call. */
  timestamp?: Timestamp;
  steps?: StepInput[];
}

export type Rating = "up" | "down" | 1 | 2 | 3 | 4 | 5;

export interface FeedbackInput {
  rating?: Rating;
  comment?: string;
  /** What the answer should have been. */
  correction?: string;
  signals?: Record<string, unknown>;
  userId?: string;
  /** A UUID; a random one when absent. */
  id?: string;
}

export interface Stats {
  /** Items logged and not yet settled (waiting or in flight). */
  queued: number;
  /** Items the server committed. */
  sent: number;
  /** Items given up without a server verdict: queue full, retries exhausted, after shutdown, no usable key/host. */
  dropped: number;
  /** Request retries performed. */
  retries: number;
  /** Items the server refused for good (a 4xx), or that could not be serialized. */
  failed: number;
}

export interface AgentLoopOptions {
  /** Secret key `al_sk_<key id>_<secret>`; defaults to env AGENTLOOP_API_KEY. */
  apiKey?: string;
  /** e.g. `https://agentloop.example.com`; defaults to env AGENTLOOP_HOST. */
  host?: string;
  /** Saves the one `GET /api/v1/auth/check` that feedback URLs otherwise need. */
  projectId?: string;
  /** Milliseconds between background sends. Default 1000. */
  flushInterval?: number;
  /** Items per request. Default 500. */
  maxBatch?: number;
  /** Items waiting to be sent; past it new items are dropped and counted. Default 10000. */
  maxQueue?: number;
  /** Milliseconds for one HTTP request. Default 10000. */
  timeout?: number;
  /** Retries of one batch before it is dropped. Default 8. */
  maxRetries?: number;
  /** Seconds a feedback URL stays valid. Default 30 days. */
  feedbackLinkTtl?: number;
  /** `false`: log nothing and send nothing. Default true. */
  enabled?: boolean;
  /** Receives every failure; without it each failure code is warned once on the console. */
  onError?: (error: AgentLoopError) => unknown;
  /** Milliseconds: the first backoff ceiling, doubled per retry. Default 500. */
  retryBaseDelay?: number;
  /** Milliseconds: the largest backoff ceiling. Default 30000. */
  retryMaxDelay?: number;
  /** A fetch implementation; defaults to the global one. */
  fetch?: FetchLike;
  /** ms a fetched prompt is served from memory before `prompt()` revalidates it (60000). */
  promptTtl?: number;
}

/** A failure the SDK handled for the caller; passed to `onError`, never thrown by logging calls. */
export declare class AgentLoopError extends Error {
  constructor(
    code: string,
    message: string,
    details?: { status?: number; field?: string | null; itemType?: string; itemId?: string; count?: number; cause?: unknown },
  );
  name: "AgentLoopError";
  /**
   * `queue_full`, `network_error`, `retries_exhausted`, `payload_too_large`, `invalid_api_key`,
   * `missing_host`, `invalid_argument`, `serialization_error`, `shutdown`, `auth_check_failed`,
   * `project_id_unknown`, `http_<status>`, or the `code` the server answered with.
   */
  code: string;
  /** HTTP status, when the server answered. */
  status: number | undefined;
  /** The input field at fault, when the server named one. */
  field: string | null | undefined;
  /** `turn`, `feedback`, `signal` or `step` for a per-item failure. */
  itemType: string | undefined;
  itemId: string | undefined;
  /** How many items the failure affected. */
  count: number;
}

/** A logged turn. */
export declare class Turn {
  private constructor();
  readonly id: string;
  /** The end user it was logged for ("" when none). */
  readonly userId: string;
  /** The signed no-login feedback URL for this turn; null (reported) when it cannot be made. Never rejects. */
  feedbackUrl(): Promise<string | null>;
  toJSON(): { id: string; userId: string };
}

export declare class Prompt {
  readonly name: string;
  readonly version: number;
  readonly labels: string[];
  readonly template: string;
  readonly variables: string[];
  readonly tools: unknown[];
  readonly settings: Record<string, unknown>;
  readonly message: string;
  readonly createdAt: string;
  readonly etag: string;
  /** `<name>@<version>`: what to log as `promptVersion`. */
  readonly reference: string;
  /** The template with `{{name}}` replaced; a missing variable throws AgentLoopError `missing_variables`. */
  render(variables?: Record<string, unknown>): string;
export declare class Dataset implements AsyncIterable<Record<string, any>> {
  readonly name: string;
  readonly description: string;
  readonly latestVersion: number | null;
  readonly version: number | null;
  readonly casesCount: number;
  readonly pageSize: number;
  [Symbol.asyncIterator](): AsyncIterator<Record<string, any>>;
  cases(): Promise<Record<string, any>[]>;
}

export interface CasesAdded {
  version: number | null;
  added: number;
  rejected: number;
  results: { index: number; status: number; case_id?: string; code?: string; message?: string; field?: string }[];
}

export declare class AgentLoop {
  /** Never throws: a bad key or host is reported, and what is then logged is counted as dropped. */
  constructor(options?: AgentLoopOptions);
  /** One version of a dataset (latest unless `version`); iterate it with `for await`. Rejects with AgentLoopError. */
  dataset(name: string, options?: { version?: number; pageSize?: number }): Promise<Dataset>;
  /** Add cases as one new version. Rejects with AgentLoopError. */
  addCases(name: string, cases: Record<string, any>[], options?: { message?: string }): Promise<CasesAdded>;
  createDataset(name: string, description?: string): Promise<Record<string, any>>;
  /** Run `task` on every case of a dataset version, upload outputs in batches (resumable with `experimentId`), return the experiment with its summary. */
  runExperiment(name: string, options: {
    task: (c: Record<string, any>) => unknown; version?: number; prompt?: [string, number] | { name: string; version: number };
    scorers?: Record<string, any>[]; concurrency?: number; experimentId?: number; name?: string; batchSize?: number;
    progress?: boolean; wait?: number;
  }): Promise<Record<string, any>>;
  /** One experiment with its progress and summary per scorer. */
  experiment(id: number): Promise<Record<string, any>>;
  /** Start a validation (the pinned body) and poll until it is finished; rejects with AgentLoopError. */
  validate(body: Record<string, any>, options?: { wait?: boolean; timeoutMs?: number; pollMs?: number }): Promise<Record<string, any>>;
  /** A validation's report. */
  validation(id: number): Promise<Record<string, any>>;
  /** Counters since the client was made; `queued` is the current backlog. */
  readonly stats: Stats;
  /** Log one turn; synchronous, never throws, sent in the background. */
  logTurn(turn?: TurnInput): Turn;
  /** ms a fetched prompt is served from memory before it is revalidated (option `promptTtl`, default 60000). */
  promptTtl: number;
  /** The prompt version `label` (default "production") or `version` names, cached with ETag revalidation. Rejects on failure. */
  prompt(name: string, options?: { label?: string; version?: number; ttl?: number }): Promise<Prompt>;
  /** `logTurn` when `condition` is truthy, else null. */
  logTurnIf(condition: unknown, turn?: TurnInput): Turn | null;
  /** Feedback on a turn (which may not have arrived yet). Returns the feedback id, or null when not accepted. */
  feedback(turnId: string, feedback?: FeedbackInput): string | null;
  /** A signal on a turn; repeats with the same non-empty `dedupeKey` are stored once. Returns whether it was queued. */
  signal(turnId: string, kind: string, value?: unknown, dedupeKey?: string): boolean;
  /** The signed feedback URL for any turn id; null (reported) when it cannot be made. Never rejects. */
  feedbackUrl(turnId: string, options?: { userId?: string | null }): Promise<string | null>;
  /** Resolves true once everything logged before the call is sent or given up; false if `timeout` ms pass first. */
  flush(timeout?: number): Promise<boolean>;
  /** Flush, then stop the background timer; later items are dropped. */
  shutdown(timeout?: number): Promise<boolean>;
}

export interface SignFeedbackUrlOptions {
  /** The whole secret key, `al_sk_<key id>_<secret>`. */
  apiKey: string;
  host: string;
  /** Expiry, Unix seconds. */
  exp: number;
  /** Defaults to the key id inside `apiKey`. */
  keyId?: string;
  projectId: string;
  turnId: string;
  /** The end user the link is for; "" when unknown. */
  userId?: string | null;
}

/** `{host}/f/{payload}.{signature}`; throws TypeError on bad input. */
export declare function signFeedbackUrl(options: SignFeedbackUrlOptions): string;

/** Split `al_sk_<key id>_<secret>`; throws TypeError (without the key in the message) on another shape. */
export declare function parseApiKey(apiKey: string): { keyId: string; secret: string };

/** HMAC-SHA256(key = the whole secret API key, "agentloop-feedback-v1"): 32 bytes (a Buffer). */
export declare function deriveSigningKey(apiKey: string): Uint8Array;

/** The base64url payload half of a feedback token. */
export declare function encodeFeedbackPayload(claims: {
  exp: number;
  keyId: string;
  projectId: string;
  turnId: string;
  userId?: string | null;
}): string;

/** The base64url signature half of a feedback token. */
export declare function signFeedbackPayload(payload: string, signingKey: Uint8Array): string;
