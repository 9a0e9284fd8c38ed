import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Mlp, type MlpHead } from '../../src/ml/mlp.js';
import { Rng } from '../../src/ml/rng.js';

function randomBatch(n: number, d: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * d }, () => rng.normal());
}

function targetsFor(head: MlpHead, n: number, k: number, seed: number): number[] {
  const rng = new Rng(seed);
  return head === 'softmax' ? Array.from({ length: n }, () => rng.int(k)) : Array.from({ length: n * k }, () => rng.int(2));
}

/**
 * Central differences on float32 parameters: the step actually taken is the difference of
 * the two stored float32 values, which keeps rounding out of the estimate.
 */
function numericGrad(values: Float32Array, i: number, f: () => number, eps = 1e-3): number {
  const orig = values[i];
  values[i] = orig + eps;
  const up = values[i];
  const fUp = f();
  values[i] = orig - eps;
  const down = values[i];
  const fDown = f();
  values[i] = orig;
  return (fUp - fDown) / (up - down);
}

function assertClose(analytic: number, numeric: number, what: string): void {
  // Observed float32 noise is below 1e-4 absolute; a 1% error in a gradient of 0.1 exceeds this.
  const tol = 3e-4 + 3e-3 * Math.abs(numeric);
  assert.ok(Math.abs(analytic - numeric) <= tol, `${what}: analytic ${analytic} vs numeric ${numeric}`);
}

for (const head of ['softmax', 'sigmoid'] as const) {
  describe(`Mlp gradients (${head} head)`, () => {
    const n = 4;
    const sizes = [6, 5, 4, 3];
    const mlp = Mlp.create({ sizes, head, seed: 7 });
    // Non-zero biases so the check also covers a network that has trained a little.
    const rng = new Rng(99);
    for (const b of mlp.biases) for (let i = 0; i < b.length; i++) b[i] = rng.normal(0, 0.3);
    const x = randomBatch(n, sizes[0], 3);
    const y = targetsFor(head, n, sizes[sizes.length - 1], 5);
    const lossOf = () => mlp.loss(mlp.forward(x, n), n, y, 'mean').loss;

    it('parameter gradients match finite differences', () => {
      const { grads } = mlp.lossAndGradients(x, n, y);
      assert.ok(grads);
      let checked = 0;
      for (let l = 0; l < mlp.layerCount; l++) {
        for (let i = 0; i < mlp.weights[l].length; i++, checked++) {
          assertClose(grads.weights[l][i], numericGrad(mlp.weights[l], i, lossOf), `W[${l}][${i}]`);
        }
        for (let i = 0; i < mlp.biases[l].length; i++, checked++) {
          assertClose(grads.biases[l][i], numericGrad(mlp.biases[l], i, lossOf), `b[${l}][${i}]`);
        }
      }
      assert.equal(checked, mlp.parameterCount);
    });

    it('input gradient matches finite differences, per example with sum reduction', () => {
      const sumLoss = () => mlp.loss(mlp.forward(x, n), n, y, 'sum').loss;
      const inputGrad = mlp.inputGradient(x, n, y);
      assert.equal(inputGrad.length, x.length);
      let nonZero = 0;
      for (let i = 0; i < x.length; i++) {
        assertClose(inputGrad[i], numericGrad(x, i, sumLoss), `dx[${i}]`);
        if (Math.abs(inputGrad[i]) > 1e-6) nonZero++;
      }
      assert.ok(nonZero > x.length / 2, 'the input gradient is mostly non-zero');
    });

    it('backward accepts any dLogits (here: one logit) and reuses gradient buffers', () => {
      const trace = mlp.trace(x, n);
      const dLogits = new Float32Array(n * 3);
      for (let i = 0; i < n; i++) dLogits[i * 3 + 1] = 1; // d(sum of logit 1)
      const into = mlp.zeroGradients();
      into.weights[0].fill(123);
      const { grads, inputGrad } = mlp.backward(trace, dLogits, { input: true, into });
      assert.equal(grads, into);
      const logitSum = () => {
        const z = mlp.forward(x, n);
        let s = 0;
        for (let i = 0; i < n; i++) s += z[i * 3 + 1];
        return s;
      };
      for (let i = 0; i < 10; i++) assertClose(grads!.weights[0][i], numericGrad(mlp.weights[0], i, logitSum), `W0[${i}]`);
      for (let i = 0; i < 10; i++) assertClose(inputGrad![i], numericGrad(x, i, logitSum), `dx[${i}]`);
    });
  });
}

describe('Mlp', () => {
  it('is deterministic for a seed and different across seeds', () => {
    const a = Mlp.create({ sizes: [8, 4, 2], seed: 1 });
    const b = Mlp.create({ sizes: [8, 4, 2], seed: 1 });
    const c = Mlp.create({ sizes: [8, 4, 2], seed: 2 });
    assert.deepEqual(a.weights, b.weights);
    assert.notDeepEqual(a.weights, c.weights);
  });

  it('round-trips through JSON bit for bit', () => {
    const mlp = Mlp.create({ sizes: [5, 3, 1], head: 'sigmoid', seed: 4 });
    mlp.biases[0][1] = -0.1234567;
    const copy = Mlp.fromJSON(JSON.parse(JSON.stringify(mlp)));
    assert.equal(copy.head, 'sigmoid');
    assert.deepEqual(copy.sizes, [5, 3, 1]);
    assert.deepEqual(copy.weights, mlp.weights);
    assert.deepEqual(copy.biases, mlp.biases);
    assert.throws(() => Mlp.fromJSON({ format: 'other' }), /not a palisade.mlp/);
  });

  it('softmax probabilities sum to one and predictClass is their arg-max', () => {
    const mlp = Mlp.create({ sizes: [4, 8, 5], seed: 2 });
    const x = randomBatch(6, 4, 8);
    const p = mlp.predictProba(x, 6);
    const cls = mlp.predictClass(x, 6);
    for (let i = 0; i < 6; i++) {
      const row = Array.from(p.subarray(i * 5, i * 5 + 5));
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
      assert.equal(cls[i], row.indexOf(Math.max(...row)));
    }
  });

  it('rejects inputs of the wrong size and labels out of range', () => {
    const mlp = Mlp.create({ sizes: [4, 3], seed: 0 });
    assert.throws(() => mlp.forward(new Float32Array(7), 2), /expected 2 x 4/);
    assert.throws(() => mlp.lossAndGradients(new Float32Array(4), 1, [3]), /outside/);
    assert.throws(() => Mlp.create({ sizes: [4] }), /at least/);
  });
});
