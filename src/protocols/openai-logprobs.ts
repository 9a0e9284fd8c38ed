/**
 * The OpenAI wire formats of token log-probabilities, turned into the neutral
 * ChoiceLogprobs view and written back. Two formats exist:
 *
 * - chat completions: `choices[].logprobs.{content,refusal}[]` of
 *   `{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}`;
 * - legacy completions: `choices[].logprobs.{tokens, token_logprobs, top_logprobs,
 *   text_offset}` (parallel arrays; `top_logprobs[i]` is a `{token: logprob}` map).
 *
 * The same shapes appear whole in a JSON body and piecewise in SSE chunks, so one walker
 * serves both. A shape that does not match is a bad upstream response: what the gateway
 * cannot read it does not pass to a client it is meant to defend.
 */
import type { ChoiceLogprobs, TokenLogprob, TopLogprob } from '../pipeline/types.js';
import { badResponse, isObject } from './adapter.js';

/** Which of the two formats a response uses: by operation. */
export type LogprobsFormat = 'chat' | 'completions';

/** Reads the log-probabilities of every choice; undefined when no choice has any. */
export function readLogprobs(body: Record<string, unknown>, format: LogprobsFormat): ChoiceLogprobs[] | undefined {
  const choices = body.choices;
  if (!Array.isArray(choices)) return undefined;
  let out: ChoiceLogprobs[] | undefined;
  for (let i = 0; i < choices.length; i++) {
    const c = choices[i];
    if (!isObject(c)) throw badResponse(`choices[${i}] is not an object`);
    const lp = c.logprobs;
    if (lp === undefined || lp === null) continue;
    if (!isObject(lp)) throw badResponse(`choices[${i}].logprobs is not an object`);
    const tokens = format === 'chat' ? readChat(lp, i) : readCompletions(lp, i);
    (out ??= []).push({ choice: i, tokens });
  }
  return out;
}

/** Writes the (possibly changed) view back into `body`, in place. */
export function writeLogprobs(body: Record<string, unknown>, format: LogprobsFormat, view: readonly ChoiceLogprobs[]): void {
  const choices = body.choices as Record<string, unknown>[];
  for (const v of view) {
    const c = choices[v.choice];
    if (v.strip) {
      c.logprobs = null;
      continue;
    }
    const lp = c.logprobs as Record<string, unknown>;
    if (format === 'chat') writeChat(lp, v.tokens);
    else writeCompletions(lp, v.tokens);
  }
}

const CHAT_FIELDS = ['content', 'refusal'] as const;

function readChat(lp: Record<string, unknown>, i: number): TokenLogprob[] {
  const tokens: TokenLogprob[] = [];
  for (const field of CHAT_FIELDS) {
    const list = lp[field];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw badResponse(`choices[${i}].logprobs.${field} is not an array`);
    list.forEach((e, j) => {
      const where = `choices[${i}].logprobs.${field}[${j}]`;
      if (!isObject(e) || typeof e.logprob !== 'number') throw badResponse(`${where} has no numeric logprob`);
      let top: TopLogprob[] | null = null;
      if (e.top_logprobs !== undefined && e.top_logprobs !== null) {
        if (!Array.isArray(e.top_logprobs)) throw badResponse(`${where}.top_logprobs is not an array`);
        top = e.top_logprobs.map((t, k) => {
          if (!isObject(t) || typeof t.token !== 'string' || typeof t.logprob !== 'number') {
            throw badResponse(`${where}.top_logprobs[${k}] is not a token with a logprob`);
          }
          const alt: TopLogprob = { token: t.token, logprob: t.logprob };
          if (t.bytes !== undefined) alt.bytes = Array.isArray(t.bytes) ? (t.bytes as number[]) : null;
          return alt;
        });
        sortTop(top);
      }
      tokens.push({ logprob: e.logprob, top });
    });
  }
  return tokens;
}

function writeChat(lp: Record<string, unknown>, tokens: readonly TokenLogprob[]): void {
  let n = 0;
  for (const field of CHAT_FIELDS) {
    const list = lp[field];
    if (!Array.isArray(list)) continue;
    for (const e of list as Record<string, unknown>[]) {
      const t = tokens[n++];
      e.logprob = t.logprob;
      if (t.top !== null) {
        e.top_logprobs = t.top.map((a) => (a.bytes === undefined ? { token: a.token, logprob: a.logprob } : { token: a.token, logprob: a.logprob, bytes: a.bytes }));
      }
    }
  }
}

function readCompletions(lp: Record<string, unknown>, i: number): TokenLogprob[] {
  const where = `choices[${i}].logprobs`;
  const values = lp.token_logprobs;
  if (values === undefined || values === null) return [];
  if (!Array.isArray(values)) throw badResponse(`${where}.token_logprobs is not an array`);
  const tops = lp.top_logprobs;
  if (tops !== undefined && tops !== null && (!Array.isArray(tops) || tops.length !== values.length)) {
    throw badResponse(`${where}.top_logprobs does not match token_logprobs`);
  }
  return values.map((v, j) => {
    if (v !== null && typeof v !== 'number') throw badResponse(`${where}.token_logprobs[${j}] is not a number`);
    const raw = Array.isArray(tops) ? tops[j] : null;
    let top: TopLogprob[] | null = null;
    if (raw !== null && raw !== undefined) {
      if (!isObject(raw)) throw badResponse(`${where}.top_logprobs[${j}] is not a map`);
      top = Object.entries(raw).map(([token, logprob]) => {
        if (typeof logprob !== 'number') throw badResponse(`${where}.top_logprobs[${j}] holds a non-number`);
        return { token, logprob };
      });
      sortTop(top);
    }
    return { logprob: v as number | null, top };
  });
}

function writeCompletions(lp: Record<string, unknown>, tokens: readonly TokenLogprob[]): void {
  if (!Array.isArray(lp.token_logprobs)) return;
  lp.token_logprobs = tokens.map((t) => t.logprob);
  if (Array.isArray(lp.top_logprobs)) {
    lp.top_logprobs = tokens.map((t) => {
      if (t.top === null) return null;
      // Own data properties even for a token spelled `__proto__`.
      const m: Record<string, number> = {};
      for (const a of t.top) Object.defineProperty(m, a.token, { value: a.logprob, enumerable: true, writable: true, configurable: true });
      return m;
    });
  }
}

/** Most likely first (stable), so that a stage that keeps the first k keeps the k most likely. */
function sortTop(top: TopLogprob[]): void {
  top.sort((a, b) => b.logprob - a.logprob);
}
