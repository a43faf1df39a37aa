// Type declarations for `agentloop/browser` (hand-written; the source carries the same JSDoc types).

export interface BrowserFeedback {
  rating?: "up" | "down";
  comment?: string;
  /** What the answer should have been. */
  correction?: string;
}

export interface SendFeedbackResult {
  ok: boolean;
  /** HTTP status; 0 when the server could not be reached. */
  status: number;
  /** The server's error code, `network_error`, `invalid_argument` or `http_<status>`. */
  code?: string;
  message?: string;
}

/** The part of `fetch` this module uses; the global `fetch` fits it. */
export type FetchLike = (url: string, init?: any) => Promise<{ status: number; ok: boolean; json(): Promise<any> }>;

export interface SendFeedbackOptions {
  /** Milliseconds. Default 10000. */
  timeout?: number;
  /** A fetch implementation; defaults to the global one. */
  fetch?: FetchLike;
}

export interface FeedbackUrlClaims {
  /** Expiry, Unix seconds. */
  exp: number;
  keyId: string;
  projectId: string;
  turnId: string;
  userId: string;
  /** Whether `exp` has passed on this device's clock. */
  expired: boolean;
}

/** POST `{rating, comment, correction}` as JSON to the signed feedback URL. Never rejects. */
export declare function sendFeedback(
  feedbackUrl: string | URL,
  feedback?: BrowserFeedback,
  options?: SendFeedbackOptions,
): Promise<SendFeedbackResult>;

/** The claims inside a feedback URL, unverified; null when it is not one. */
export declare function readFeedbackUrl(feedbackUrl: string | URL, nowSeconds?: number): FeedbackUrlClaims | null;
