import { sigmoid } from './linalg.js';

/**
 * How per-example losses are combined into the scalar that is differentiated: `mean`
 * for training (the step size does not depend on the batch size), `sum` for attacks
 * (each example's input gradient is then exactly the gradient of its own loss).
 */
export type Reduction = 'mean' | 'sum';

/** A loss value together with its gradient with respect to the logits. */
export interface LossResult {
  /** The reduced loss. */
  loss: number;
  /** The loss of each example, before reduction (e.g. for loss-threshold membership attacks). */
  losses: Float64Array;
  /** d loss / d logits, [n, k] row-major, already scaled by the reduction. */
  dLogits: Float32Array;
}

/**
 * Softmax cross-entropy over [n, k] logits against integer class labels.
 *
 * @example
 * const { loss, dLogits } = softmaxCrossEntropy(logits, n, 10, labels);
 */
export function softmaxCrossEntropy(
  logits: Float32Array,
  n: number,
  k: number,
  labels: ArrayLike<number>,
  reduction: Reduction = 'mean',
): LossResult {
  if (labels.length !== n) throw new RangeError(`softmaxCrossEntropy: ${labels.length} labels for ${n} rows`);
  const losses = new Float64Array(n);
  const dLogits = new Float32Array(n * k);
  const scale = reduction === 'mean' ? 1 / n : 1;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const o = i * k;
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= k) throw new RangeError(`softmaxCrossEntropy: label ${y} outside [0, ${k})`);
    let max = -Infinity;
    for (let j = 0; j < k; j++) if (logits[o + j] > max) max = logits[o + j];
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(logits[o + j] - max);
    const logSum = Math.log(sum) + max;
    losses[i] = logSum - logits[o + y];
    total += losses[i];
    for (let j = 0; j < k; j++) {
      const p = Math.exp(logits[o + j] - logSum);
      dLogits[o + j] = (p - (j === y ? 1 : 0)) * scale;
    }
  }
  return { loss: total * scale, losses, dLogits };
}

/**
 * Binary cross-entropy on sigmoid outputs, computed from the logits so it never takes
 * log(0). `targets` has one value in [0, 1] per logit ([n, k]; k = 1 for a binary classifier).
 * A per-example loss is the sum over its k outputs.
 */
export function sigmoidBinaryCrossEntropy(
  logits: Float32Array,
  n: number,
  k: number,
  targets: ArrayLike<number>,
  reduction: Reduction = 'mean',
): LossResult {
  if (targets.length !== n * k) throw new RangeError(`sigmoidBinaryCrossEntropy: ${targets.length} targets for ${n}x${k} logits`);
  const losses = new Float64Array(n);
  const dLogits = new Float32Array(n * k);
  const scale = reduction === 'mean' ? 1 / n : 1;
  let total = 0;
  for (let i = 0; i < n; i++) {
    let l = 0;
    for (let j = 0; j < k; j++) {
      const z = logits[i * k + j];
      const y = targets[i * k + j];
      // max(z, 0) - z*y + log(1 + e^-|z|) is the same value as -y log σ(z) - (1-y) log(1-σ(z)).
      l += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
      dLogits[i * k + j] = (sigmoid(z) - y) * scale;
    }
    losses[i] = l;
    total += l;
  }
  return { loss: total * scale, losses, dLogits };
}
