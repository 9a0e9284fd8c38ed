/**
 * The "model" behind the demo LLM server: deterministic replies, token counts, fake
 * log-probabilities and embeddings. Pure functions, no I/O, so the same input always
 * gives the same output and tests can predict every byte.
 *
 * A token is a whitespace-separated word (whitespace as in JavaScript's `\s`). Reply
 * tokens carry the space that precedes them (`"You"`, `" said:"`, ...) so that the
 * concatenation of the tokens is exactly the reply text, as with a real tokenizer.
 */

/** The fixed sentence the demo model appends after echoing the caller. */
export const DEMO_SENTENCE = 'The demo model answers the same way every time, one word per token.';

const SENTENCE_WORDS = DEMO_SENTENCE.split(' ');
// Reply words after the first one are preceded by a space; precomputed because the
// sentence makes up most of every reply.
const SENTENCE_SPACED = SENTENCE_WORDS.map((w) => ' ' + w);

/** Most code points of the caller's text echoed back in a reply. */
export const ECHO_CHARS = 40;

/** Most alternatives a chat request may ask for (OpenAI's limit for `top_logprobs`). */
export const MAX_TOP_LOGPROBS = 20;
/** Most alternatives a legacy completion may ask for (OpenAI's limit for `logprobs`). */
export const MAX_LEGACY_LOGPROBS = 5;

// Distinct words for the alternatives in top_logprobs; more than MAX_TOP_LOGPROBS so
// that skipping the chosen token still leaves enough.
const ALT_WORDS = [
  'the', 'a', 'and', 'of', 'to', 'in', 'is', 'it', 'that', 'for', 'on',
  'with', 'as', 'was', 'at', 'by', 'an', 'be', 'this', 'or', 'from', 'but',
];

/** True for the code units JavaScript's `\s` matches. */
export function isSpace(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 160) return false;
  return (
    c === 160 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 ||
    c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
  );
}

/** Number of whitespace-separated words in `text`. */
export function countTokens(text: string): number {
  let n = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const space = isSpace(text.charCodeAt(i));
    if (!space && !inWord) n++;
    inWord = !space;
  }
  return n;
}

/**
 * Splits `text` into tokens whose concatenation is exactly `text`: each word with the
 * whitespace before it, trailing whitespace glued to the last word. Used for echoed
 * prompts, where offsets must line up with the caller's own bytes.
 */
export function splitPromptTokens(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  const len = text.length;
  while (i < len) {
    while (i < len && isSpace(text.charCodeAt(i))) i++;
    if (i === len) break;
    while (i < len && !isSpace(text.charCodeAt(i))) i++;
    out.push(text.slice(start, i));
    start = i;
  }
  if (start < len && out.length > 0) out[out.length - 1] += text.slice(start);
  return out;
}

function words(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  const len = text.length;
  while (i < len) {
    while (i < len && isSpace(text.charCodeAt(i))) i++;
    const start = i;
    while (i < len && !isSpace(text.charCodeAt(i))) i++;
    if (i > start) out.push(text.slice(start, i));
  }
  return out;
}

function firstCodePoints(text: string, max: number): string {
  // Cut by code point, not code unit, so an emoji is never split into a lone surrogate.
  if (text.length <= max) return text;
  let out = '';
  let n = 0;
  for (const ch of text) {
    if (n++ === max) break;
    out += ch;
  }
  return out;
}

/** Number of tokens in the reply to `source` when no token count is imposed. */
export function naturalReplyLength(source: string): number {
  return words(replyPrefix(source)).length + SENTENCE_WORDS.length;
}

function replyPrefix(source: string): string {
  return `You said: ${firstCodePoints(source, ECHO_CHARS).trim()}.`;
}

/**
 * The reply to `source` as tokens: "You said: <first 40 code points>." then the fixed
 * sentence, repeated or cut to exactly `count` tokens (the natural length when
 * `count` is undefined). With `leadingSpace` every token starts with a space, as
 * legacy completions continue a prompt; otherwise the first one does not.
 */
export function replyTokens(source: string, count: number | undefined, leadingSpace: boolean): string[] {
  const prefix = words(replyPrefix(source));
  const total = count ?? prefix.length + SENTENCE_WORDS.length;
  const out = new Array<string>(total);
  const p = Math.min(prefix.length, total);
  for (let i = 0; i < p; i++) out[i] = i === 0 && !leadingSpace ? prefix[i] : ' ' + prefix[i];
  for (let i = p, j = 0; i < total; i++, j++) {
    if (j === SENTENCE_SPACED.length) j = 0;
    out[i] = i === 0 && !leadingSpace ? SENTENCE_WORDS[j] : SENTENCE_SPACED[j];
  }
  return out;
}

/**
 * The fake log-probability of `token` at position `pos` of choice `choice`: a value in
 * [-1.16, -0.2], the same for the same arguments. Alternatives are at least 2 nats
 * below it, so the chosen token is always the most likely and the top list is a
 * proper (sub-)distribution.
 */
export function tokenLogprob(pos: number, choice: number, token: string): number {
  return -(20 + ((pos * 37 + choice * 11 + token.length * 7) % 97)) / 100;
}

function altLogprob(pos: number, choice: number, token: string, rank: number): number {
  return -(220 + 100 * rank + ((pos * 37 + choice * 11 + token.length * 7) % 97)) / 100;
}

/** Calls `fn` for the `k - 1` alternatives of `token` (spelled like it), best first. */
function forEachAlternative(
  token: string, pos: number, choice: number, k: number,
  fn: (alt: string, logprob: number) => void,
): void {
  const spaced = token.charCodeAt(0) === 32;
  let rank = 0;
  for (let i = 0; rank < k - 1 && i < ALT_WORDS.length; i++) {
    const w = ALT_WORDS[(pos + choice + i) % ALT_WORDS.length];
    const alt = spaced ? ' ' + w : w;
    if (alt === token) continue;
    fn(alt, altLogprob(pos, choice, token, rank));
    rank++;
  }
}

function utf8Bytes(token: string): number[] {
  const out = new Array<number>(token.length);
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (c > 127) return Array.from(Buffer.from(token, 'utf8'));
    out[i] = c;
  }
  return out;
}

/** One entry of `choices[].logprobs.content` in the chat format. */
export interface ChatLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

/**
 * The chat-format log-probability entry of `token`, with `k` entries in
 * `top_logprobs` (the token itself first, then k-1 alternatives); `[]` when k is 0.
 */
export function chatLogprob(token: string, pos: number, choice: number, k: number): ChatLogprob {
  const logprob = tokenLogprob(pos, choice, token);
  const bytes = utf8Bytes(token);
  const top: ChatLogprob['top_logprobs'] = [];
  if (k > 0) {
    top.push({ token, logprob, bytes });
    forEachAlternative(token, pos, choice, k, (alt, lp) => top.push({ token: alt, logprob: lp, bytes: utf8Bytes(alt) }));
  }
  return { token, logprob, bytes, top_logprobs: top };
}

/** `choices[].logprobs` of a legacy completion. */
export interface LegacyLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

/**
 * Appends the legacy-format log-probabilities of `tokens` to `into`. `pos0` is the
 * position of the first token in the whole text and `offset0` its character offset;
 * when `unscoredFirst` the first token gets `null`s, as the first prompt token of an
 * echo does (nothing precedes it to condition on).
 */
export function appendLegacyLogprobs(
  into: LegacyLogprobs, tokens: string[], choice: number, k: number,
  pos0: number, offset0: number, unscoredFirst: boolean,
): number {
  let offset = offset0;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const pos = pos0 + i;
    into.tokens.push(token);
    into.text_offset.push(offset);
    offset += token.length;
    if (unscoredFirst && i === 0) {
      into.token_logprobs.push(null);
      into.top_logprobs.push(null);
      continue;
    }
    const lp = tokenLogprob(pos, choice, token);
    into.token_logprobs.push(lp);
    const top: Record<string, number> = Object.create(null) as Record<string, number>;
    if (k > 0) {
      top[token] = lp;
      forEachAlternative(token, pos, choice, k, (alt, alp) => {
        top[alt] = alp;
      });
    }
    // A plain object again so JSON.stringify and deepEqual treat it as usual.
    into.top_logprobs.push({ ...top });
  }
  return offset;
}

/** Default length of the demo embedding vectors. */
export const EMBEDDING_DIMS = 16;

/**
 * A deterministic unit vector of `dims` numbers for `text`: FNV-1a of the text seeds
 * a small PRNG (mulberry32). Equal texts get equal vectors, different texts almost
 * surely different ones.
 */
export function embed(text: string, dims: number): number[] {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  let state = h >>> 0;
  const out = new Array<number>(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    const v = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
    out[i] = v;
    norm += v * v;
  }
  norm = Math.sqrt(norm) || 1;
  // Rounded to float32 so the float and base64 encodings carry the same numbers.
  for (let i = 0; i < dims; i++) out[i] = Math.fround(out[i] / norm);
  return out;
}
