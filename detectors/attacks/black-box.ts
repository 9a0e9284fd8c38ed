/**
 * A black-box evasion attack: SimBA (Guo et al., 2019, "Simple Black-box Adversarial
 * Attacks"). It needs only the served model's probabilities: it tries one direction of an
 * orthonormal basis at a time, +step then -step, and keeps a try when the true class's
 * probability drops. With the low-frequency DCT basis (SimBA-DCT) it walks along smooth
 * image patterns; with the pixel basis it changes one pixel per query. Every try is one
 * query, so the attack is also a query stream: a long run of near-duplicates of one image.
 */
import { Rng } from '../../src/ml/rng.js';
import type { Oracle } from './oracle.js';

/** Options for {@link simba}. */
export interface SimbaOptions {
  /** L2 length of one step along a basis direction. Default 0.5 (DCT) or 0.2 (pixel). */
  step?: number;
  /** Default 'dct'. */
  basis?: 'dct' | 'pixel';
  /** For the DCT basis: frequencies 0 .. maxFreq-1 per axis are used. Default 14. */
  maxFreq?: number;
  /** Queries allowed per image (both tries count). Default 1000. */
  maxQueries?: number;
  /** Seed of the order of directions. Default 0. */
  seed?: number;
  /** Side of the square image. Default 28. */
  side?: number;
  /** Called with every query, in order, when the caller wants the query stream. */
  onQuery?: (row: Float32Array) => void;
}

/** What {@link simba} returns for a batch. */
export interface SimbaResult {
  /** [n, d] adversarial (or last) images. */
  x: Float32Array;
  /** Queries spent per image. */
  queries: Uint32Array;
  /** 1 where the predicted class no longer equals the label. */
  success: Uint8Array;
}

/**
 * Runs SimBA on each image (sequentially per image, all images in step so each round is
 * one batched oracle call).
 */
export function simba(oracle: Oracle, x: Float32Array, n: number, labels: ArrayLike<number>, options: SimbaOptions = {}): SimbaResult {
  const { basis = 'dct', maxFreq = 14, maxQueries = 1000, seed = 0, side = 28, onQuery } = options;
  const step = options.step ?? (basis === 'dct' ? 0.5 : 0.2);
  const d = side * side;
  if (x.length !== n * d) throw new RangeError(`simba: x has ${x.length} values, expected ${n} x ${d}`);
  const rng = new Rng(seed);
  const dirs = basis === 'dct' ? dctDirections(side, maxFreq, rng) : pixelDirections(d, rng);
  const adv = x.slice();
  const queries = new Uint32Array(n);
  const success = new Uint8Array(n);
  const k = oracle.classes;
  const probs = oracle.predict(adv, n);
  queries.fill(1);
  const pTrue = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    pTrue[i] = probs[i * k + labels[i]];
    success[i] = argmax(probs, i * k, k) !== labels[i] ? 1 : 0;
  }
  const cand = new Float32Array(n * d);
  // Images whose + try was kept skip the - try of the same direction.
  const kept = new Uint8Array(n);
  for (let t = 0; t < dirs.length; t++) {
    const q = dirs[t];
    kept.fill(0);
    for (const sign of [1, -1]) {
      const rows: number[] = [];
      for (let i = 0; i < n; i++) {
        if (success[i] || kept[i] || queries[i] >= maxQueries) continue;
        const dst = cand.subarray(rows.length * d, (rows.length + 1) * d);
        const src = adv.subarray(i * d, (i + 1) * d);
        for (let p = 0; p < d; p++) dst[p] = clip01(src[p] + sign * step * q[p]);
        rows.push(i);
      }
      if (rows.length === 0) continue;
      if (onQuery) for (let r = 0; r < rows.length; r++) onQuery(cand.slice(r * d, (r + 1) * d));
      const pr = oracle.predict(cand.subarray(0, rows.length * d), rows.length);
      for (let r = 0; r < rows.length; r++) {
        const i = rows[r];
        queries[i]++;
        const p = pr[r * k + labels[i]];
        if (p < pTrue[i]) {
          pTrue[i] = p;
          kept[i] = 1;
          adv.set(cand.subarray(r * d, (r + 1) * d), i * d);
          if (argmax(pr, r * k, k) !== labels[i]) success[i] = 1;
        }
      }
    }
    let done = true;
    for (let i = 0; i < n && done; i++) if (!success[i] && queries[i] < maxQueries) done = false;
    if (done) break;
  }
  return { x: adv, queries, success };
}

function clip01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

function argmax(v: ArrayLike<number>, off: number, k: number): number {
  let best = 0;
  for (let c = 1; c < k; c++) if (v[off + c] > v[off + best]) best = c;
  return best;
}

/** Orthonormal 2D DCT-II basis images of the low frequencies, lowest total frequency first, ties shuffled. */
function dctDirections(side: number, maxFreq: number, rng: Rng): Float32Array[] {
  const pairs: [number, number][] = [];
  for (let u = 0; u < maxFreq; u++) for (let v = 0; v < maxFreq; v++) pairs.push([u, v]);
  rng.shuffle(pairs);
  pairs.sort((a, b) => a[0] + a[1] - (b[0] + b[1]));
  const cos = (f: number, i: number) => (f === 0 ? Math.sqrt(1 / side) : Math.sqrt(2 / side) * Math.cos((Math.PI * (2 * i + 1) * f) / (2 * side)));
  return pairs.map(([u, v]) => {
    const q = new Float32Array(side * side);
    for (let r = 0; r < side; r++) for (let c = 0; c < side; c++) q[r * side + c] = cos(u, r) * cos(v, c);
    return q;
  });
}

function pixelDirections(d: number, rng: Rng): Float32Array[] {
  return Array.from(rng.permutation(d), (p) => {
    const q = new Float32Array(d);
    q[p] = 1;
    return q;
  });
}
