/**
 * Near-duplicate prompts, the text analogue of the tensor sketches: a 64-bit SimHash
 * (Charikar, 2002) of a prompt's character 5-grams after light normalization. Two
 * prompts that share most of their 5-grams (a template with one slot changed, a prompt
 * retried with a word swapped) have hashes a few bits apart; unrelated prompts differ
 * in about 32 of 64 bits. A principal that sends many prompts within a few bits of its
 * earlier ones is sweeping (membership inference or extraction over an LLM).
 */
import { fmix32 } from './sketch.js';

/** A 64-bit SimHash as two unsigned 32-bit halves. */
export interface SimHash {
  hi: number;
  lo: number;
}

/** Characters per shingle. */
const GRAM = 5;

/** Lowercase, NFKC, runs of whitespace to one space, trimmed: what a retry with cosmetic edits does not change. */
export function normalizePrompt(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim();
}

/**
 * The SimHash of a text's character 5-grams (the text itself when shorter), each gram
 * weighted once per occurrence.
 *
 * @example
 * hamming(simhash('What is the capital of France?'), simhash('What is the capital of Spain?')); // small
 */
export function simhash(text: string, seed = 0): SimHash {
  const t = normalizePrompt(text);
  const counts = new Int32Array(64);
  const grams = t.length <= GRAM ? 1 : t.length - GRAM + 1;
  for (let i = 0; i < grams; i++) {
    const g = t.length <= GRAM ? t : t.slice(i, i + GRAM);
    const [h1, h2] = hash64(g, seed);
    for (let b = 0; b < 32; b++) {
      counts[b] += (h1 >>> b) & 1 ? 1 : -1;
      counts[32 + b] += (h2 >>> b) & 1 ? 1 : -1;
    }
  }
  let hi = 0;
  let lo = 0;
  for (let b = 0; b < 32; b++) {
    if (counts[b] > 0) hi |= 1 << b;
    if (counts[32 + b] > 0) lo |= 1 << b;
  }
  return { hi: hi >>> 0, lo: lo >>> 0 };
}

/** Bits in which two hashes differ, 0 to 64. */
export function hamming(a: SimHash, b: SimHash): number {
  return popcount32((a.hi ^ b.hi) >>> 0) + popcount32((a.lo ^ b.lo) >>> 0);
}

/** 16 hex digits. */
export function encodeSimHash(h: SimHash): string {
  return h.hi.toString(16).padStart(8, '0') + h.lo.toString(16).padStart(8, '0');
}

/** Reads {@link encodeSimHash}'s text; undefined when malformed. */
export function decodeSimHash(text: string): SimHash | undefined {
  if (!/^[0-9a-f]{16}$/.test(text)) return undefined;
  return { hi: parseInt(text.slice(0, 8), 16) >>> 0, lo: parseInt(text.slice(8), 16) >>> 0 };
}

function popcount32(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/** Two independent 32-bit FNV-1a-style hashes of a string's UTF-16 units, finalized with murmur3's mixer. */
function hash64(s: string, seed: number): [number, number] {
  let a = (0x811c9dc5 ^ seed) >>> 0;
  let b = (0x01000193 ^ Math.imul(seed, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return [fmix32(a), fmix32(b ^ 0x9747b28c)];
}
