/**
 * Output policies for LLMs, over the neutral request parameters and the neutral
 * log-probability view: what a request may ask for (top log-probabilities, log-
 * probabilities at all, echo with log-probabilities, number of choices), and what a
 * response may carry.
 */
import type { ChoiceLogprobs, InferenceParams } from '../pipeline/types.js';
import type { LlmPolicy } from './config.js';

/** What a request asked for beyond the policy, and the parameters that would bring it within. */
export interface LlmRequestCheck {
  /** Client-safe reasons, one per excess; empty when the request is within the policy. */
  excess: string[];
  /** The clamp that brings the request within the policy. */
  change: Partial<InferenceParams>;
}

/** Checks a chat or completions request against the policy. */
export function checkLlmRequest(params: InferenceParams, operation: string, policy: LlmPolicy): LlmRequestCheck {
  const excess: string[] = [];
  const change: Partial<InferenceParams> = {};
  if (operation !== 'chat' && operation !== 'completions') return { excess, change };
  const field = operation === 'chat' ? 'top_logprobs' : 'logprobs';
  if (params.logprobs) {
    if (policy.logprobs === 'strip') {
      excess.push('log-probabilities are not available from this model');
      change.logprobs = false;
    } else {
      if (policy.maxTopLogprobs !== undefined && (params.topLogprobs ?? 0) > policy.maxTopLogprobs) {
        excess.push(`${field} may be at most ${policy.maxTopLogprobs}`);
        change.topLogprobs = policy.maxTopLogprobs;
      }
      if (params.echo && policy.echoLogprobs === 'refuse') {
        excess.push('echo together with logprobs is not allowed');
        change.echo = false;
      }
    }
  }
  if (policy.maxN !== undefined && (params.n ?? 1) > policy.maxN) {
    excess.push(`n may be at most ${policy.maxN}`);
    change.n = policy.maxN;
  }
  return { excess, change };
}

/** What {@link defendLogprobs} changed, for the audit note. */
export interface LogprobsEffect {
  stripped: number;
  rounded: number;
  truncated: number;
}

/**
 * Applies the response side of the policy to the log-probabilities of a response (or one
 * SSE chunk), in place: strip, cap the alternatives, round.
 */
export function defendLogprobs(view: ChoiceLogprobs[], policy: LlmPolicy): LogprobsEffect {
  const effect: LogprobsEffect = { stripped: 0, rounded: 0, truncated: 0 };
  for (const c of view) {
    if (policy.logprobs === 'strip') {
      c.strip = true;
      effect.stripped++;
      continue;
    }
    for (const t of c.tokens) {
      // A cap the request already had is enforced again here: an upstream that ignores
      // the (clamped) request must not get past it.
      if (t.top && policy.maxTopLogprobs !== undefined && t.top.length > policy.maxTopLogprobs) {
        t.top = t.top.slice(0, policy.maxTopLogprobs);
        effect.truncated++;
      }
      if (policy.logprobs === 'round') {
        if (t.logprob !== null) t.logprob = round(t.logprob, policy.decimals);
        if (t.top) for (const a of t.top) a.logprob = round(a.logprob, policy.decimals);
        effect.rounded++;
      }
    }
  }
  return effect;
}

function round(x: number, decimals: number): number {
  const f = 10 ** decimals;
  // Log-probabilities are <= 0; -0 would print as 0 anyway, but keep it tidy.
  return Math.round(x * f) / f || 0;
}
