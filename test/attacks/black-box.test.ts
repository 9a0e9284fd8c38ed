import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadDemoMnistMlp } from '../../src/demo/demo-mnist-model.js';
import { loadMnist, takeSubset } from '../../src/demo/mnist-data.js';
import { simba } from '../../detectors/attacks/black-box.js';
import { countingOracle, mlpOracle } from '../../detectors/attacks/oracle.js';

describe('SimBA (black-box)', () => {
  const mlp = loadDemoMnistMlp();
  const digits = takeSubset(loadMnist().test, 10, 5);

  it('fools the model with probabilities only, and every query it reports reached the oracle', () => {
    const oracle = countingOracle(mlpOracle(mlp));
    const seen: Float32Array[] = [];
    const r = simba(oracle, digits.x, digits.n, digits.y, { maxQueries: 300, onQuery: (q) => seen.push(q) });
    const total = r.queries.reduce((a, b) => a + b, 0);
    assert.equal(oracle.count, total);
    assert.equal(seen.length, total - digits.n, 'every query but the first look at each image is reported');
    assert.ok(r.queries.every((q) => q <= 300));
    const pred = mlp.predictClass(r.x, digits.n);
    let fooled = 0;
    for (let i = 0; i < digits.n; i++) if (pred[i] !== digits.y[i]) fooled++;
    assert.equal(fooled, r.success.reduce((a, b) => a + b, 0));
    assert.ok(fooled >= 7, `${fooled}/10`);
  });
});
