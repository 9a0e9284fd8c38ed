/**
 * Output policies for classifiers, over one row of class scores at a time: noise, top-k,
 * rounding and label-only, in that order. Each keeps the top class of the row (the first
 * index of the maximum, as argmax reports it), so the answer a client acts on is the
 * one the model gave; only the confidence detail that leaks membership goes.
 */
import type { ClassifierPolicy } from './config.js';

/** Index of the first maximum (NaN-free input assumed). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Softmax, shifted by the maximum so large logits stay finite. */
export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  const out = new Array<number>(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp(logits[i] - max);
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/**
 * Applies a classifier policy to one row of probabilities. `label` is the top class of
 * the row as the model gave it (for logits, computed on the logits: softmax can round
 * two close logits to one probability). `normal` draws the row's noise.
 */
export function defendRow(probs: readonly number[], label: number, policy: ClassifierPolicy, normal?: () => number): number[] {
  let p = probs.slice();
  if (policy.noise && normal) p = addNoise(p, label, policy.noise.scale, normal);
  if (policy.topK !== undefined && policy.topK < p.length) p = keepTopK(p, label, policy.topK);
  if (policy.decimals !== undefined) p = roundTo(p, label, policy.decimals);
  if (policy.labelOnly) p = p.map((_, i) => (i === label ? 1 : 0));
  keepTop(p, label, policy.decimals === undefined ? 0 : 10 ** -policy.decimals);
  return p;
}

/**
 * Gaussian noise on every probability, clipped at 0 and renormalized; if the noise moved
 * the maximum, the two values swap so the top class stays. Noise in probability space
 * (not logits) is what hides the tiny differences near 1 that loss-based attacks read.
 */
function addNoise(p: number[], label: number, scale: number, normal: () => number): number[] {
  let sum = 0;
  const out = p.map((v) => {
    const x = Math.max(0, v + scale * normal());
    sum += x;
    return x;
  });
  if (!(sum > 0)) return p.map((_, i) => (i === label ? 1 : 0));
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  const top = argmax(out);
  if (top !== label) [out[top], out[label]] = [out[label], out[top]];
  return out;
}

/** The k largest stay (the top class always among them); the rest become 0. */
function keepTopK(p: number[], label: number, k: number): number[] {
  const order = p.map((_, i) => i).filter((i) => i !== label);
  order.sort((a, b) => p[b] - p[a] || a - b);
  const keep = new Set([label, ...order.slice(0, k - 1)]);
  return p.map((v, i) => (keep.has(i) ? v : 0));
}

function roundTo(p: number[], label: number, decimals: number): number[] {
  const f = 10 ** decimals;
  void label;
  return p.map((v) => Math.round(v * f) / f);
}

/**
 * Makes `label` the first maximum again if rounding or clipping made a tie (or worse):
 * it becomes the largest other value plus one rounding unit (or the next float up).
 */
function keepTop(p: number[], label: number, unit: number): void {
  let broken = false;
  let maxOther = -Infinity;
  for (let i = 0; i < p.length; i++) {
    if (i === label) continue;
    if (p[i] > maxOther) maxOther = p[i];
    if (i < label ? p[i] >= p[label] : p[i] > p[label]) broken = true;
  }
  if (!broken) return;
  if (unit > 0) {
    const f = Math.round(1 / unit);
    p[label] = Math.round((maxOther + unit) * f) / f;
  } else {
    p[label] = nextUp(maxOther);
  }
}

function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  const buf = new Float64Array([x]);
  const bits = new BigInt64Array(buf.buffer);
  bits[0] += x > 0 ? 1n : -1n;
  return buf[0];
}
