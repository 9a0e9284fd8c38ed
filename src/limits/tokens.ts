/**
 * Token estimates for reservations. The gateway has no tokenizer of the upstream's
 * model, so it estimates, and settles against the `usage` the upstream reports:
 * - prompt: ceil(characters of every text the model reads / charsPerToken) (about 4
 *   characters per token for English with BPE tokenizers);
 * - completion: max_tokens (or the configured default) times `n`; none for embeddings;
 * - a streamed response without usage: one token per SSE event (servers send one or a
 *   few tokens per event), so an estimate errs towards counting more.
 */
import type { InferenceRequest, TokenUsage } from '../pipeline/types.js';

export interface TokenEstimate {
  prompt: number;
  completion: number;
}

/** The reservation for a request. */
export function estimateTokens(req: InferenceRequest, charsPerToken: number, defaultMaxTokens: number): TokenEstimate {
  let chars = 0;
  for (const t of req.texts) chars += t.text.length;
  const prompt = Math.ceil(chars / charsPerToken);
  if (req.operation === 'embeddings') return { prompt, completion: 0 };
  const n = req.params.n ?? 1;
  return { prompt, completion: (req.params.maxTokens ?? defaultMaxTokens) * n };
}

/** Whether an upstream reported any usage. */
export function hasUsage(u: TokenUsage | undefined): u is TokenUsage {
  return u !== undefined && (u.inputTokens !== undefined || u.outputTokens !== undefined);
}
