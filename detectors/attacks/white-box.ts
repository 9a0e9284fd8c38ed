/**
 * White-box evasion attacks against a classifier whose gradients we have (the demo MNIST
 * network as an {@link Mlp}): FGSM and PGD under an L-infinity budget, and DeepFool, an L2
 * attack of another family (it walks to the nearest linearised decision boundary instead
 * of spending a fixed budget). Inputs are row-major [n, d] batches of pixels in [0, 1];
 * every attack returns a new batch and leaves the input alone.
 */
import type { Mlp } from '../../src/ml/mlp.js';
import { argmaxRows } from '../../src/ml/linalg.js';
import { Rng } from '../../src/ml/rng.js';

/** Rows per gradient call: bounds the activations kept alive at once. */
const CHUNK = 500;

function clip01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/**
 * Fast Gradient Sign Method (Goodfellow et al., 2015): one step of size `eps` along the
 * sign of the loss gradient, untargeted, against the true labels.
 *
 * @example
 * const adv = fgsm(mlp, test.x, test.n, test.y, 0.2);
 */
export function fgsm(mlp: Mlp, x: Float32Array, n: number, labels: ArrayLike<number>, eps: number): Float32Array {
  const d = mlp.inputSize;
  const out = new Float32Array(n * d);
  for (let s = 0; s < n; s += CHUNK) {
    const b = Math.min(CHUNK, n - s);
    const xb = x.subarray(s * d, (s + b) * d);
    const g = mlp.inputGradient(xb, b, sliceLabels(labels, s, b));
    for (let i = 0; i < b * d; i++) out[s * d + i] = clip01(xb[i] + eps * Math.sign(g[i]));
  }
  return out;
}

/** Options for {@link pgd}. */
export interface PgdOptions {
  /** L-infinity radius. */
  eps: number;
  /** Default 20. */
  steps?: number;
  /** Step size; default 2.5 * eps / steps (Madry et al.). */
  alpha?: number;
  /** Start at a uniform random point of the ball (default true), seeded by `seed`. */
  randomStart?: boolean;
  /** Default 0. */
  seed?: number;
}

/**
 * Projected Gradient Descent under L-infinity (Madry et al., 2018): `steps` signed-gradient
 * steps of `alpha`, each projected back into the eps-ball around the input and into [0, 1].
 * Untargeted, against the true labels.
 */
export function pgd(mlp: Mlp, x: Float32Array, n: number, labels: ArrayLike<number>, options: PgdOptions): Float32Array {
  const { eps, steps = 20, randomStart = true, seed = 0 } = options;
  const alpha = options.alpha ?? (2.5 * eps) / steps;
  const d = mlp.inputSize;
  const rng = new Rng(seed);
  const out = new Float32Array(n * d);
  for (let s = 0; s < n; s += CHUNK) {
    const b = Math.min(CHUNK, n - s);
    const x0 = x.subarray(s * d, (s + b) * d);
    const y = sliceLabels(labels, s, b);
    const adv = x0.slice();
    if (randomStart) for (let i = 0; i < adv.length; i++) adv[i] = clip01(x0[i] + rng.uniform(-eps, eps));
    for (let t = 0; t < steps; t++) {
      const g = mlp.inputGradient(adv, b, y);
      for (let i = 0; i < adv.length; i++) {
        const v = adv[i] + alpha * Math.sign(g[i]);
        adv[i] = clip01(Math.min(x0[i] + eps, Math.max(x0[i] - eps, v)));
      }
    }
    out.set(adv, s * d);
  }
  return out;
}

/** Options for {@link deepFool}. */
export interface DeepFoolOptions {
  /** Most linearisation steps per input. Default 50. */
  maxIter?: number;
  /** Pushes the total perturbation (1 + overshoot) times past the boundary. Default 0.02. */
  overshoot?: number;
}

/**
 * DeepFool (Moosavi-Dezfooli et al., 2016), L2: at each step, linearise every class
 * margin f_k - f_orig around the current point and move by the smallest step that crosses
 * the nearest of those hyperplanes; stop once the predicted class changes. The result is
 * a near-minimal L2 perturbation, the opposite of FGSM's budget-filling one: it lands just
 * over the boundary and changes few pixels by much.
 */
export function deepFool(mlp: Mlp, x: Float32Array, n: number, options: DeepFoolOptions = {}): Float32Array {
  const { maxIter = 50, overshoot = 0.02 } = options;
  const d = mlp.inputSize;
  const k = mlp.outputSize;
  const adv = x.slice();
  const orig = argmaxRows(mlp.forward(x, n), n, k);
  const r = new Float64Array(n * d); // accumulated perturbation
  let active = Array.from({ length: n }, (_, i) => i);
  for (let it = 0; it < maxIter && active.length > 0; it++) {
    // Only rows still on their original class take part in this step's passes.
    const b = active.length;
    const xb = new Float32Array(b * d);
    for (let j = 0; j < b; j++) xb.set(adv.subarray(active[j] * d, (active[j] + 1) * d), j * d);
    const trace = mlp.trace(xb, b);
    const logits = trace.logits;
    const pred = argmaxRows(logits, b, k);
    const still: number[] = [];
    const rows: number[] = [];
    for (let j = 0; j < b; j++) {
      if (pred[j] === orig[active[j]]) {
        still.push(active[j]);
        rows.push(j);
      }
    }
    if (still.length === 0) break;
    // Gradient of every logit with respect to the input, one backward pass per class.
    const grads: Float32Array[] = [];
    for (let c = 0; c < k; c++) {
      const dl = new Float32Array(b * k);
      for (const j of rows) dl[j * k + c] = 1;
      grads.push(mlp.backward(trace, dl, { params: false, input: true }).inputGrad!);
    }
    for (let m = 0; m < still.length; m++) {
      const i = still[m];
      const j = rows[m];
      const o = orig[i];
      let best = Infinity;
      let bestC = -1;
      let bestNorm2 = 0;
      let bestF = 0;
      for (let c = 0; c < k; c++) {
        if (c === o) continue;
        const f = logits[j * k + c] - logits[j * k + o];
        let norm2 = 0;
        for (let p = 0; p < d; p++) {
          const w = grads[c][j * d + p] - grads[o][j * d + p];
          norm2 += w * w;
        }
        const dist = Math.abs(f) / (Math.sqrt(norm2) + 1e-12);
        if (dist < best) {
          best = dist;
          bestC = c;
          bestNorm2 = norm2;
          bestF = f;
        }
      }
      if (bestC < 0) continue;
      const step = (Math.abs(bestF) + 1e-4) / (bestNorm2 + 1e-12);
      for (let p = 0; p < d; p++) {
        const w = grads[bestC][j * d + p] - grads[o][j * d + p];
        r[i * d + p] += step * w;
        adv[i * d + p] = clip01(x[i * d + p] + (1 + overshoot) * r[i * d + p]);
      }
    }
    active = still;
  }
  return adv;
}

function sliceLabels(labels: ArrayLike<number>, start: number, count: number): Float32Array {
  const y = new Float32Array(count);
  for (let i = 0; i < count; i++) y[i] = labels[start + i];
  return y;
}

/** Options for {@link carliniWagnerL2}. */
export interface CarliniWagnerOptions {
  /** Weight of the misclassification term against the squared L2 distance. Default 3. */
  c?: number;
  /** Logit margin the adversarial class must win by (confidence). Default 5. */
  kappa?: number;
  /** Adam steps. Default 100. */
  steps?: number;
  /** Adam learning rate on the tanh-space variable. Default 0.05. */
  lr?: number;
}

/**
 * A light Carlini-Wagner L2 attack (Carlini & Wagner, 2017): minimises
 * ||x' - x||² + c · max(Z_y - max_{j≠y} Z_j, -κ) over x' = (tanh w + 1) / 2 with Adam, at
 * one fixed c (no binary search: "lite"). Unlike DeepFool it overshoots the boundary by a
 * logit margin κ, so the result is classified wrongly with confidence, and it keeps the
 * smallest successful perturbation seen. Rows it cannot flip are returned unchanged.
 */
export function carliniWagnerL2(mlp: Mlp, x: Float32Array, n: number, labels: ArrayLike<number>, options: CarliniWagnerOptions = {}): Float32Array {
  const { c = 3, kappa = 5, steps = 100, lr = 0.05 } = options;
  const d = mlp.inputSize;
  const k = mlp.outputSize;
  const out = x.slice();
  const b1 = 0.9;
  const b2 = 0.999;
  for (let s = 0; s < n; s += CHUNK) {
    const b = Math.min(CHUNK, n - s);
    const x0 = x.subarray(s * d, (s + b) * d);
    const w = new Float64Array(b * d);
    for (let i = 0; i < w.length; i++) w[i] = Math.atanh((2 * x0[i] - 1) * 0.999999);
    const m = new Float64Array(b * d);
    const v = new Float64Array(b * d);
    const bestL2 = new Float64Array(b).fill(Infinity);
    const adv = new Float32Array(b * d);
    for (let t = 1; t <= steps; t++) {
      for (let i = 0; i < adv.length; i++) adv[i] = (Math.tanh(w[i]) + 1) / 2;
      const trace = mlp.trace(adv, b);
      const z = trace.logits;
      const dl = new Float32Array(b * k);
      for (let i = 0; i < b; i++) {
        const y = labels[s + i];
        let other = -1;
        for (let j = 0; j < k; j++) if (j !== y && (other < 0 || z[i * k + j] > z[i * k + other])) other = j;
        const margin = z[i * k + y] - z[i * k + other];
        let l2 = 0;
        for (let p = 0; p < d; p++) {
          const e = adv[i * d + p] - x0[i * d + p];
          l2 += e * e;
        }
        if (margin <= -kappa && l2 < bestL2[i]) {
          bestL2[i] = l2;
          out.set(adv.subarray(i * d, (i + 1) * d), (s + i) * d);
        }
        if (margin > -kappa) {
          dl[i * k + y] = c;
          dl[i * k + other] = -c;
        }
      }
      const g = mlp.backward(trace, dl, { params: false, input: true }).inputGrad!;
      for (let i = 0; i < w.length; i++) {
        const th = Math.tanh(w[i]);
        const gx = 2 * (adv[i] - x0[i]) + g[i];
        const gw = (gx * (1 - th * th)) / 2;
        m[i] = b1 * m[i] + (1 - b1) * gw;
        v[i] = b2 * v[i] + (1 - b2) * gw * gw;
        w[i] -= (lr * (m[i] / (1 - b1 ** t))) / (Math.sqrt(v[i] / (1 - b2 ** t)) + 1e-8);
      }
    }
  }
  return out;
}
