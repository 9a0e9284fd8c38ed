/**
 * `text-hashed-ngrams` v1: fastText-like features of normalized text. A window of the
 * normalized stream becomes a bag of hashed character n-grams and word n-grams (ids
 * into the model's embedding table) plus a few dense statistics that catch text no
 * human writes (optimizer-made gibberish suffixes, long encoded runs).
 *
 * The batch layout is EmbeddingBag-like, so rows of different lengths share one `run`
 * without padding: `ids` [N] (int32, all rows' ids back to back), `segments` [N, 1]
 * (int64, the row of each id), `scale` [B, 1] (1 / ids in the row: mean pooling) and
 * `dense` [B, DENSE]. The graph gathers the embeddings, sums them per row with
 * ScatterND(reduction=add), scales, concatenates `dense`, and applies its head.
 */
import * as ort from '../ort.js';
import { z } from 'zod';
import type { FeedBuffers } from '../feed-buffers.js';
import type { FeaturizerSpec, TextFeaturizer } from '../featurizer.js';
import { fmix32 } from '../stream/sketch.js';
import { normalizeJoined, type NormalizeVersion } from './normalize.js';

export const HASHED_NGRAMS = 'text-hashed-ngrams';
/** Dense statistics per window (see `denseStats`). */
export const DENSE = 8;

const paramsSchema = z.strictObject({
  buckets: z
    .number()
    .int()
    .refine((b) => b >= 1024 && b <= 1 << 24 && (b & (b - 1)) === 0, 'buckets must be a power of two between 1024 and 2^24'),
  charNgrams: z.array(z.number().int().min(1).max(8)).min(1),
  wordNgrams: z.array(z.number().int().min(1).max(3)),
  window: z.number().int().min(64).max(1 << 20),
  overlap: z.number().int().min(0),
  seed: z.number().int().min(0).max(0xffffffff),
});

export type HashedNgramsParams = z.infer<typeof paramsSchema>;

/** The features of one window. */
export interface HashedNgramsItem {
  ids: Int32Array;
  dense: Float32Array;
}

const INPUTS = ['ids', 'segments', 'scale', 'dense'] as const;

/** The featurizer; build it through the registry (or `create` in training code). */
export class HashedNgramsFeaturizer implements TextFeaturizer<HashedNgramsItem> {
  readonly name = HASHED_NGRAMS;
  readonly kind = 'text' as const;
  readonly inputs = INPUTS;
  private readonly mask: number;
  private readonly charOrders: boolean[];
  /** Bit k set when char n-grams of order k are on. */
  private readonly orderFlags: number;
  private readonly maxChar: number;
  private readonly word1: boolean;
  private readonly word2: boolean;
  private readonly word3: boolean;
  private readonly stride: number;

  /**
   * `version` is the normalization's (see normalize.ts); the n-gram hashing and the
   * dense statistics are the same in v1 and v2.
   */
  constructor(
    readonly params: Readonly<HashedNgramsParams>,
    readonly version: NormalizeVersion = 1,
  ) {
    if (params.overlap >= params.window) throw new Error('overlap must be smaller than window');
    this.mask = params.buckets - 1;
    this.maxChar = Math.max(...params.charNgrams);
    this.charOrders = Array.from({ length: this.maxChar + 1 }, (_, k) => params.charNgrams.includes(k));
    this.orderFlags = params.charNgrams.reduce((f, k) => f | (1 << k), 0);
    this.word1 = params.wordNgrams.includes(1);
    this.word2 = params.wordNgrams.includes(2);
    this.word3 = params.wordNgrams.includes(3);
    this.stride = params.window - params.overlap;
  }

  prepare(texts: readonly string[]): string {
    const v = this.version;
    if (texts.length === 1) return normalizeJoined(texts[0], v);
    let out = '';
    for (let i = 0; i < texts.length; i++) out += (i ? '\n' : '') + normalizeJoined(texts[i], v);
    return out;
  }

  windows(stream: string): Array<[number, number]> {
    const n = stream.length;
    const { window } = this.params;
    if (n <= window) return [[0, n]];
    const out: Array<[number, number]> = [];
    let start = 0;
    for (; start + window < n; start += this.stride) out.push([start, start + window]);
    // The last window ends at the end of the stream, so it is full-length like the others.
    out.push([n - window, n]);
    return out;
  }

  featurize(w: string): HashedNgramsItem {
    const n = w.length;
    // Each character is read up to maxChar times below: read it from a typed array once.
    const codes = this.codesFor(n);
    for (let i = 0; i < n; i++) codes[i] = w.charCodeAt(i);
    let bound = 0;
    for (let k = 1; k <= this.maxChar; k++) if (this.charOrders[k] && n >= k) bound += n - k + 1;
    // Upper bound on word ids: at most one token per two characters, plus bigrams and trigrams.
    bound += ((n >> 1) + 1) * ((this.word1 ? 1 : 0) + (this.word2 ? 1 : 0) + (this.word3 ? 1 : 0));
    const ids = this.idArena.reserve(bound);
    const from = this.idArena.used;
    const seed = this.params.seed | 0;
    let m = charGrams(codes, n, this.maxChar, this.orderFlags, 0x811c9dc5 ^ seed, this.mask, ids, from);
    m = wordGrams(codes, n, seed, this.mask, this.word1, this.word2, this.word3, ids, m);
    return { ids: this.idArena.commit(m), dense: denseOf(codes, n, this.params.window) };
  }

  /**
   * Gives back items whose run has ended: their ids may be overwritten from now on (and
   * the items read as empty). Optional: items never given back are left to the GC.
   */
  release(items: readonly HashedNgramsItem[]): void {
    for (const it of items) this.idArena.release(it);
  }

  private codes = new Uint16Array(0);
  /** Where the ids of windows go: one buffer for many windows instead of one per window. */
  private readonly idArena = new IdArena();

  /** A scratch buffer for a window's code units (windows are at most `window` long; the buffer is reused). */
  private codesFor(n: number): Uint16Array {
    if (this.codes.length < n) this.codes = new Uint16Array(Math.max(n, this.params.window));
    return this.codes;
  }

  /**
   * `buffers` (one per session, see FeedBuffers) lets the feeds reuse the previous run's
   * buffers; without it they are allocated afresh.
   */
  feeds(items: readonly HashedNgramsItem[], names: Readonly<Record<string, string>>, buffers?: FeedBuffers): Record<string, ort.Tensor> {
    const b = items.length;
    let total = 0;
    for (const it of items) total += it.ids.length;
    const ids = buffers ? buffers.view('ids', Int32Array, total) : new Int32Array(total);
    // Zero-filled when new and never written but for the low words below, so the high words stay 0.
    const seg = buffers ? buffers.view('segments', BigInt64Array, total) : new BigInt64Array(total);
    // int64 little-endian: write the low 32 bits and leave the high ones zero; a BigInt per id costs 20x more.
    const segLow = new Int32Array(seg.buffer, seg.byteOffset, total * 2);
    const scale = buffers ? buffers.view('scale', Float32Array, b) : new Float32Array(b);
    const dense = buffers ? buffers.view('dense', Float32Array, b * DENSE) : new Float32Array(b * DENSE);
    let off = 0;
    for (let r = 0; r < b; r++) {
      const it = items[r];
      const len = it.ids.length;
      ids.set(it.ids, off);
      for (let j = off; j < off + len; j++) segLow[j << 1] = r;
      off += len;
      scale[r] = len > 0 ? 1 / len : 0;
      dense.set(it.dense, r * DENSE);
    }
    return {
      [names.ids]: new ort.Tensor('int32', ids, [total]),
      [names.segments]: new ort.Tensor('int64', seg, [total, 1]),
      [names.scale]: new ort.Tensor('float32', scale, [b, 1]),
      [names.dense]: new ort.Tensor('float32', dense, [b, DENSE]),
    };
  }
}

/**
 * A bump allocator of ids: windows take consecutive slices of one large buffer, and a
 * full buffer is left to the slices still in use (never written again) for a new one.
 * One allocation per many windows instead of one (with its own backing store) per window.
 *
 * The buffer is written again from its start only once every slice handed out from it
 * has been given back (`release`, by the text scorer once the run that read them has
 * ended): a sequential caller then reuses one buffer forever, and callers that never
 * give slices back (training code) just leave full buffers to the GC. A slice given back
 * is emptied, so a second release of the same item counts nothing.
 */
class IdArena {
  private buf = new Int32Array(0);
  used = 0;
  /** Slices of `buf` handed out and not given back. */
  private outstanding = 0;

  /** The current buffer, with room for `bound` ids from `used`. */
  reserve(bound: number): Int32Array {
    if (this.outstanding === 0) this.used = 0;
    if (this.buf.length - this.used < bound) {
      this.buf = new Int32Array(Math.max(bound, ARENA_IDS));
      this.used = 0;
      this.outstanding = 0;
    }
    return this.buf;
  }

  /** Hands out the ids written since `used`, up to `end`. */
  commit(end: number): Int32Array {
    const out = this.buf.subarray(this.used, end);
    this.used = end;
    this.outstanding++;
    return out;
  }

  /** Takes back an item's slice (a slice of an earlier buffer is left to the GC). */
  release(item: HashedNgramsItem): void {
    if (item.ids !== NO_IDS && item.ids.buffer === this.buf.buffer) {
      item.ids = NO_IDS;
      this.outstanding--;
    }
  }
}

const NO_IDS = new Int32Array(0);

/** Ids per arena buffer (256 KB): about 90 windows of 512 characters. */
const ARENA_IDS = 1 << 16;

/**
 * Character n-grams: FNV-1a over UTF-16 units; the prefix hash of every order is the
 * hash of that order's n-gram, so all orders come from one inner loop. Writes the ids
 * from `m` on; returns the end.
 */
function charGrams(codes: Uint16Array, n: number, maxChar: number, flags: number, basis: number, mask: number, ids: Int32Array, m: number): number {
  // One order only (flags is that bit): the same hashes without testing the order at each step.
  if (flags === 1 << 4) return charGrams4(codes, n, basis, mask, ids, m);
  if (flags === 1 << maxChar) {
    for (let i = 0; i + maxChar <= n; i++) {
      let h = basis;
      for (let k = 0; k < maxChar; k++) h = Math.imul(h ^ codes[i + k], 0x01000193);
      ids[m++] = fmix32(h) & mask;
    }
    return m;
  }
  for (let i = 0; i < n; i++) {
    let h = basis;
    const lim = maxChar < n - i ? maxChar : n - i;
    for (let k = 0; k < lim; k++) {
      h = Math.imul(h ^ codes[i + k], 0x01000193);
      if ((flags >>> (k + 1)) & 1) {
        ids[m++] = fmix32(h) & mask;
      }
    }
  }
  return m;
}

/**
 * charGrams for 4-grams alone (the shipped package's): the FNV-1a hash of codes[i-3..i]
 * with the three earlier code units kept in locals, one load per n-gram instead of four
 * (half the time of the general loop).
 */
function charGrams4(codes: Uint16Array, n: number, basis: number, mask: number, ids: Int32Array, m: number): number {
  if (n < 4) return m;
  let c0 = codes[0];
  let c1 = codes[1];
  let c2 = codes[2];
  for (let i = 3; i < n; i++) {
    const c3 = codes[i];
    const h = Math.imul(Math.imul(Math.imul(Math.imul(basis ^ c0, 0x01000193) ^ c1, 0x01000193) ^ c2, 0x01000193) ^ c3, 0x01000193);
    ids[m++] = fmix32(h) & mask;
    c0 = c1;
    c1 = c2;
    c2 = c3;
  }
  return m;
}

/** Word n-grams over tokens (runs of word characters), hashed in another namespace. Writes from `m`; returns the end. */
function wordGrams(codes: Uint16Array, n: number, seed: number, mask: number, word1: boolean, word2: boolean, word3: boolean, ids: Int32Array, m: number): number {
  let prev1 = 0;
  let prev2 = 0;
  let tokens = 0;
  let inTok = false;
  let h = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? codes[i] : 0x20;
    if (isWordChar(c)) {
      if (!inTok) {
        inTok = true;
        h = 0x9dc5811c ^ seed;
      }
      h = Math.imul(h ^ c, 0x01000193);
    } else if (inTok) {
      inTok = false;
      const t = fmix32(h ^ 0x5bd1e995);
      if (word1) ids[m++] = t & mask;
      if (word2 && tokens >= 1) ids[m++] = fmix32(Math.imul(prev1, 0x2545f491) ^ t) & mask;
      if (word3 && tokens >= 2) ids[m++] = fmix32(Math.imul(fmix32(Math.imul(prev2, 0x2545f491) ^ prev1), 0x2545f491) ^ t) & mask;
      prev2 = prev1;
      prev1 = t;
      tokens++;
    }
  }
  return m;
}

/** ASCII letters and digits (a table: this is asked for every character). */
const ASCII_WORD = new Uint8Array(0x80).map((_, c) => ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) ? 1 : 0));

/** Letters, digits and anything outside ASCII punctuation and the symbol blocks. */
function isWordChar(c: number): boolean {
  if (c < 0x80) return ASCII_WORD[c] === 1;
  return !((c >= 0x2000 && c <= 0x2bff) || (c >= 0x3000 && c <= 0x303f) || (c >= 0xa0 && c <= 0xbf));
}


/**
 * Statistics of a window that bags of n-grams see poorly: its length, its mix of
 * letters, digits, punctuation and non-ASCII, and how many of its tokens look like no
 * human word (punctuation inside the token, very long tokens), the mark of
 * optimizer-made adversarial suffixes and encoded blobs.
 */
export function denseStats(w: string, window: number): Float32Array {
  const codes = new Uint16Array(w.length);
  for (let i = 0; i < w.length; i++) codes[i] = w.charCodeAt(i);
  return denseOf(codes, w.length, window);
}

/** denseStats of the first `n` code units of `codes`. */
function denseOf(codes: Uint16Array, n: number, window: number): Float32Array {
  const out = new Float32Array(DENSE);
  if (n === 0) return out;
  let letters = 0;
  let digits = 0;
  let punct = 0;
  let nonAscii = 0;
  let tokens = 0;
  let weird = 0;
  let long = 0;
  let tokLen = 0;
  let tokChars = 0;
  let inner = 0; // punctuation seen inside the current token, after a letter
  let trailing = 0; // punctuation at the current end of the token
  for (let i = 0; i <= n; i++) {
    const c = i < n ? codes[i] : 0x20;
    if (c === 0x20 || c === 0x0a || c === 0x09) {
      if (tokLen > 0) {
        tokens++;
        tokChars += tokLen;
        if (inner - trailing >= 2) weird++;
        if (tokLen > 20) long++;
      }
      tokLen = 0;
      inner = 0;
      trailing = 0;
      continue;
    }
    tokLen++;
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) {
      letters++;
      trailing = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      digits++;
      trailing = 0;
    } else if (c < 0x80) {
      punct++;
      if (tokLen > 1) {
        inner++;
        trailing++;
      }
    } else {
      nonAscii++;
      trailing = 0;
    }
  }
  out[0] = Math.min(n / window, 1);
  out[1] = letters / n;
  out[2] = digits / n;
  out[3] = punct / n;
  out[4] = nonAscii / n;
  out[5] = tokens ? weird / tokens : 0;
  out[6] = tokens ? Math.min(tokChars / tokens / 10, 3) : 0;
  out[7] = tokens ? long / tokens : 0;
  return out;
}

function spec(version: NormalizeVersion): FeaturizerSpec {
  return {
    name: HASHED_NGRAMS,
    version,
    kind: 'text',
    create(params: unknown) {
      const r = paramsSchema.safeParse(params);
      if (!r.success) {
        throw new Error(`invalid params: ${r.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`).join('; ')}`);
      }
      return new HashedNgramsFeaturizer(r.data, version);
    },
  };
}

/** Registry entry of `text-hashed-ngrams` v1 (package 1.0.0): kept so that older packages still load. */
export const hashedNgramsV1: FeaturizerSpec = spec(1);
/** Registry entry of `text-hashed-ngrams` v2: v1 with the normalization of issue 9 (more marks, Armenian and IPA look-alikes). */
export const hashedNgramsV2: FeaturizerSpec = spec(2);
