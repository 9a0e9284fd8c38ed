import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Adam } from '../../src/ml/adam.js';
import { Mlp } from '../../src/ml/mlp.js';
import { Rng } from '../../src/ml/rng.js';
import { classificationAccuracy, trainMlp, type LabeledData } from '../../src/ml/train.js';

/** Points in the square labelled by the XOR of their signs: not linearly separable. */
function xorData(n: number, seed: number): LabeledData {
  const rng = new Rng(seed);
  const x = new Float32Array(n * 2);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const a = rng.uniform(-1, 1);
    const b = rng.uniform(-1, 1);
    x[i * 2] = a;
    x[i * 2 + 1] = b;
    y[i] = a * b > 0 ? 1 : 0;
  }
  return { x, y, n };
}

describe('trainMlp', () => {
  it('learns XOR with a softmax head', () => {
    const train = xorData(400, 1);
    const test = xorData(200, 2);
    const mlp = Mlp.create({ sizes: [2, 16, 2], seed: 3 });
    const before = classificationAccuracy(mlp, test);
    const history = trainMlp(mlp, train, { epochs: 60, lr: 0.01, batchSize: 32, seed: 4 });
    assert.ok(history[history.length - 1] < history[0] / 3, `loss fell: ${history[0]} -> ${history.at(-1)}`);
    assert.ok(classificationAccuracy(mlp, test) > 0.9, `accuracy ${classificationAccuracy(mlp, test)} (before ${before})`);
  });

  it('learns XOR with a one-output sigmoid head (binary classifier)', () => {
    const train = xorData(400, 1);
    const test = xorData(200, 2);
    const mlp = Mlp.create({ sizes: [2, 16, 1], head: 'sigmoid', seed: 3 });
    trainMlp(mlp, train, { epochs: 60, lr: 0.01, batchSize: 32, seed: 4, schedule: 'cosine' });
    assert.ok(classificationAccuracy(mlp, test) > 0.9);
  });

  it('is deterministic for a seed, including augmentation', () => {
    const data = xorData(100, 5);
    const jitter = (x: Float32Array, n: number, rng: Rng) => {
      for (let i = 0; i < n * 2; i++) x[i] += rng.normal(0, 0.01);
    };
    const run = (seed: number) => {
      const mlp = Mlp.create({ sizes: [2, 8, 2], seed: 1 });
      trainMlp(mlp, data, { epochs: 3, lr: 0.01, batchSize: 16, seed, augment: jitter });
      return mlp;
    };
    assert.deepEqual(run(7).weights, run(7).weights);
    assert.notDeepEqual(run(7).weights, run(8).weights);
    // The augmentation works on a copy: the caller's data is untouched.
    assert.deepEqual(data.x, xorData(100, 5).x);
  });

  it('decoupled weight decay shrinks weights that get no gradient', () => {
    const mlp = Mlp.create({ sizes: [2, 2], seed: 1 });
    const before = Array.from(mlp.weights[0]);
    const opt = new Adam(mlp, { lr: 0.1, weightDecay: 0.5 });
    opt.step(mlp.zeroGradients());
    assert.deepEqual(Array.from(mlp.weights[0]), before.map((w) => Math.fround(w * 0.95)));
  });

  it('rejects data whose size does not match the network', () => {
    const mlp = Mlp.create({ sizes: [2, 2], seed: 1 });
    assert.throws(() => trainMlp(mlp, { x: new Float32Array(5), y: [0, 1], n: 2 }, { epochs: 1 }), /expected 2 x 2/);
  });
});
