/**
 * What a black-box attacker sees of a classifier: probabilities for a batch of inputs.
 * The attacks here run against the same network the demo server serves, in process, so
 * experiments take seconds instead of hours of HTTP round trips; the gateway tests send
 * the resulting queries over the wire.
 */
import type { Mlp } from '../../src/ml/mlp.js';

export interface Oracle {
  /** Number of classes (width of a probability row). */
  readonly classes: number;
  /** Probabilities, [n, classes], for [n, d] inputs. */
  predict(x: Float32Array, n: number): Float32Array;
}

/** The probabilities of an {@link Mlp} as an oracle (what the demo model server returns). */
export function mlpOracle(mlp: Mlp): Oracle {
  return { classes: mlp.outputSize, predict: (x, n) => mlp.predictProba(x, n) };
}

/** An oracle that counts its queries (one per row), for attack budgets. */
export function countingOracle(inner: Oracle): Oracle & { readonly count: number } {
  let count = 0;
  return {
    classes: inner.classes,
    get count() {
      return count;
    },
    predict(x, n) {
      count += n;
      return inner.predict(x, n);
    },
  };
}
