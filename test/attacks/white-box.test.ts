import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadDemoMnistMlp } from '../../src/demo/demo-mnist-model.js';
import { loadMnist, takeSubset } from '../../src/demo/mnist-data.js';
import { accuracy } from '../../src/ml/metrics.js';
import { carliniWagnerL2, deepFool, fgsm, pgd } from '../../detectors/attacks/white-box.js';

const mlp = loadDemoMnistMlp();
const digits = takeSubset(loadMnist().test, 40, 3);
const D = 784;
const acc = (x: Float32Array) => accuracy(mlp.predictClass(x, digits.n), digits.y);

function linf(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function inUnitRange(x: Float32Array): boolean {
  return x.every((v) => v >= 0 && v <= 1);
}

describe('white-box attacks on the demo MNIST model', () => {
  it('FGSM stays within eps and [0, 1] and fools the model at eps 0.2', () => {
    const adv = fgsm(mlp, digits.x, digits.n, digits.y, 0.2);
    assert.ok(linf(adv, digits.x) <= 0.2 + 1e-6);
    assert.ok(inUnitRange(adv));
    assert.ok(acc(digits.x) > 0.9);
    assert.ok(acc(adv) < 0.1, String(acc(adv)));
  });

  it('PGD stays within its ball, is reproducible by seed, and is stronger than FGSM at eps 0.1', () => {
    const a = pgd(mlp, digits.x, digits.n, digits.y, { eps: 0.1, steps: 10, seed: 4 });
    const b = pgd(mlp, digits.x, digits.n, digits.y, { eps: 0.1, steps: 10, seed: 4 });
    assert.deepEqual(a, b);
    assert.ok(linf(a, digits.x) <= 0.1 + 1e-6);
    assert.ok(inUnitRange(a));
    assert.ok(acc(a) <= acc(fgsm(mlp, digits.x, digits.n, digits.y, 0.1)));
    assert.ok(acc(a) < 0.2, String(acc(a)));
  });

  it('DeepFool and Carlini-Wagner L2 flip predictions with small L2 perturbations', () => {
    const sub = { x: digits.x.subarray(0, 10 * D), n: 10, y: digits.y.subarray(0, 10) };
    const orig = mlp.predictClass(sub.x, sub.n);
    for (const [name, adv] of [
      ['deepfool', deepFool(mlp, sub.x, sub.n)],
      ['cw-l2', carliniWagnerL2(mlp, sub.x, sub.n, sub.y)],
    ] as const) {
      assert.ok(inUnitRange(adv), name);
      const pred = mlp.predictClass(adv, sub.n);
      let flipped = 0;
      let l2sum = 0;
      for (let i = 0; i < sub.n; i++) {
        if (pred[i] !== orig[i]) flipped++;
        let s = 0;
        for (let p = 0; p < D; p++) s += (adv[i * D + p] - sub.x[i * D + p]) ** 2;
        l2sum += Math.sqrt(s);
      }
      assert.ok(flipped >= 9, `${name} flipped ${flipped}/10`);
      assert.ok(l2sum / sub.n < 4, `${name} mean L2 ${l2sum / sub.n}`);
    }
  });
});
