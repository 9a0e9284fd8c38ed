/**
 * Model extraction by Jacobian-based dataset augmentation (Papernot et al., 2017,
 * "Practical Black-Box Attacks against Machine Learning"): the attacker labels a small
 * seed set with the served model, trains a local substitute on it, and grows the set
 * each round by stepping every point along the sign of the substitute's gradient for the
 * label the oracle gave it, S' = S ∪ {x + λ·sign(∂F_sub[O(x)]/∂x)}, then queries the new
 * points. The queries are the seeds, then every synthetic point, round by round: each
 * synthetic point sits at L-infinity distance λ from a point queried before.
 */
import { argmaxRows } from '../../src/ml/linalg.js';
import { Mlp } from '../../src/ml/mlp.js';
import { trainMlp } from '../../src/ml/train.js';
import type { Oracle } from './oracle.js';

/** Options for {@link jacobianAugmentation}. */
export interface JacobianAugmentationOptions {
  /** Augmentation rounds after the seed round. Default 3 (seeds x 8 queries in all). */
  rounds?: number;
  /** Step of the augmentation. Default 0.1 (Papernot et al. on MNIST). */
  lambda?: number;
  /** The step's sign flips every `tau` rounds (periodic step size). Default 3. */
  tau?: number;
  /** Substitute architecture. Default [784, 200, 200, 10]. */
  substituteSizes?: number[];
  /** Substitute training epochs per round. Default 10. */
  epochs?: number;
  /** Stop once this many queries have been made. Default: no limit. */
  maxQueries?: number;
  /** Default 0. */
  seed?: number;
}

/** What {@link jacobianAugmentation} returns. */
export interface JacobianAugmentationResult {
  /** Every query in the order sent, [n, d]. */
  queries: Float32Array;
  n: number;
  /** The oracle's label for each query. */
  labels: Uint8Array;
  /** The substitute after the last round. */
  substitute: Mlp;
}

/**
 * Runs the attack from `seeds` ([nSeeds, d]) against `oracle` and returns its queries.
 *
 * @example
 * const { queries } = jacobianAugmentation(mlpOracle(mlp), takeSubset(test, 150, 7).x, 150, { rounds: 2 });
 */
export function jacobianAugmentation(oracle: Oracle, seeds: Float32Array, nSeeds: number, options: JacobianAugmentationOptions = {}): JacobianAugmentationResult {
  const { rounds = 3, lambda = 0.1, tau = 3, epochs = 10, maxQueries = Infinity, seed = 0 } = options;
  const k = oracle.classes;
  const d = seeds.length / nSeeds;
  if (!Number.isInteger(d)) throw new RangeError('jacobianAugmentation: seeds length is not a multiple of nSeeds');
  const sizes = options.substituteSizes ?? [d, 200, 200, k];
  const substitute = Mlp.create({ sizes, seed });

  let set = seeds.slice(0, Math.min(nSeeds, maxQueries) * d);
  let n = set.length / d;
  let labels = Uint8Array.from(argmaxRows(oracle.predict(set, n), n, k));
  for (let round = 0; round < rounds && n < maxQueries; round++) {
    trainMlp(substitute, { x: set, y: labels, n }, { epochs, batchSize: 32, lr: 1e-3, seed: seed + round });
    const sign = Math.floor(round / tau) % 2 === 0 ? 1 : -1;
    const count = Math.min(n, maxQueries - n);
    // d logit[label] / d x, one backward pass with a one-hot upstream gradient.
    const trace = substitute.trace(set.subarray(0, count * d), count);
    const dl = new Float32Array(count * k);
    for (let i = 0; i < count; i++) dl[i * k + labels[i]] = 1;
    const grad = substitute.backward(trace, dl, { params: false, input: true }).inputGrad!;
    const fresh = new Float32Array(count * d);
    for (let i = 0; i < count * d; i++) fresh[i] = Math.min(1, Math.max(0, set[i] + sign * lambda * Math.sign(grad[i])));
    const freshLabels = argmaxRows(oracle.predict(fresh, count), count, k);
    const grown = new Float32Array((n + count) * d);
    grown.set(set);
    grown.set(fresh, n * d);
    const grownLabels = new Uint8Array(n + count);
    grownLabels.set(labels);
    grownLabels.set(freshLabels, n);
    set = grown;
    labels = grownLabels;
    n += count;
  }
  return { queries: set, n, labels, substitute };
}
