/**
 * agentloop — the AgentLoop SDK for Node 18+ (server side: it holds the secret API key).
 * For browser code use `agentloop/browser`, which never holds a secret.
 */

export { AgentLoop, Turn, EXIT_FLUSH_TIMEOUT_MS } from "./src/client.js";
export { AgentLoopError } from "./src/errors.js";
export { Prompt } from "./src/prompts.js";
export { Dataset } from "./src/datasets.js";
export {
  deriveSigningKey,
  encodeFeedbackPayload,
  parseApiKey,
  signFeedbackPayload,
  signFeedbackUrl,
} from "./src/signing.js";
export { VERSION } from "./src/version.js";
